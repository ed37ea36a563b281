using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>CLUSTERIP, a frame this node owns: only the Ethernet destination changes, to the MAC of the TAP
/// device it is re-injected through, so the local stack takes it as addressed to this host (a frame to the
/// multicast cluster MAC would not be PACKET_HOST, and TCP would drop it). The IP packet is untouched;
/// the application answers from the VIP and the reply leaves through the node's own interface.
/// Frames of flows the node does not own never get here: they are dropped as <c>not_owner</c>.</summary>
public sealed class ClusterIpForwarder : IForwarder
{
    public static readonly ClusterIpForwarder Instance = new();

    private ClusterIpForwarder() { }

    public DropReason Rewrite(Span<byte> frame, in PacketInfo packet, BackendSnapshot backend, MacAddress backendMac, MacAddress egressMac)
    {
        egressMac.Write(frame);
        return DropReason.None;
    }
}
