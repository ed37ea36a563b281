using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>A control-plane packet socket on one interface, bound to one protocol: it sees the frames its kind asks
/// for (<see cref="ArpSocket"/>, <see cref="NeighborDiscoverySocket"/>) and sends the control plane's own, one at a
/// time. Outgoing frames are not looped back to it.</summary>
public abstract class LinkSocket : IDisposable
{
    private readonly PacketSocket _socket;

    private protected LinkSocket(PacketSocket socket) => _socket = socket;

    public string InterfaceName => _socket.InterfaceName;

    /// <summary>Opens the socket, lets <paramref name="prepare"/> set it up while it is still unbound (it sees no frame
    /// yet), then binds it to <paramref name="protocol"/>.</summary>
    private protected static PacketSocket Open(string interfaceName, ushort protocol, Action<PacketSocket>? prepare = null)
    {
        var socket = PacketSocket.Open(interfaceName);
        try
        {
            socket.TrySetInt(PacketConstants.PACKET_IGNORE_OUTGOING, 1);
            prepare?.Invoke(socket);
            socket.Bind(protocol);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public int Receive(Span<byte> buffer, int timeoutMs) => _socket.Receive(buffer, timeoutMs);

    /// <summary>Also hear frames sent to a multicast MAC (a CLUSTERIP cluster MAC, a solicited-node group).</summary>
    public void JoinMulticast(Core.Packets.MacAddress mac) => _socket.JoinMulticast(mac);

    public bool Send(ReadOnlySpan<byte> frame) => _socket.Send(frame);

    public void Dispose() => _socket.Dispose();
}
