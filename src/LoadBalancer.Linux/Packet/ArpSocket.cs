using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>The control plane's ARP channel on one interface: an ETH_P_ARP packet socket that sees
/// ARP requests and replies and sends ours (replies for VIPs, gratuitous ARP, backend resolution).</summary>
public sealed class ArpSocket : IDisposable
{
    private readonly PacketSocket _socket;

    private ArpSocket(PacketSocket socket) => _socket = socket;

    public string InterfaceName => _socket.InterfaceName;

    public static ArpSocket Open(string interfaceName)
    {
        var socket = PacketSocket.Open(interfaceName);
        try
        {
            socket.TrySetInt(PacketConstants.PACKET_IGNORE_OUTGOING, 1);
            socket.Bind(PacketConstants.ETH_P_ARP);
            return new ArpSocket(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public int Receive(Span<byte> buffer, int timeoutMs) => _socket.Receive(buffer, timeoutMs);

    /// <summary>Also hear ARP sent to a multicast MAC (a router re-probing a CLUSTERIP VIP at its cluster MAC).</summary>
    public void JoinMulticast(Core.Packets.MacAddress mac) => _socket.JoinMulticast(mac);

    public bool Send(ReadOnlySpan<byte> frame) => _socket.Send(frame);

    public void Dispose() => _socket.Dispose();
}
