using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>The control plane's ARP channel on one interface: an ETH_P_ARP packet socket that sees
/// ARP requests and replies and sends ours (replies for VIPs, gratuitous ARP, backend resolution).</summary>
public sealed class ArpSocket : LinkSocket
{
    private ArpSocket(PacketSocket socket) : base(socket)
    {
    }

    public static ArpSocket Open(string interfaceName) => new(Open(interfaceName, PacketConstants.ETH_P_ARP));
}
