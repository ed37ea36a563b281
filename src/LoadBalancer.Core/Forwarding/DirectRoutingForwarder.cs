using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>Direct routing (LVS-DR, DSR). Rewrite rules and invariants:
/// - only the Ethernet destination (the backend's MAC) and source (our egress interface's MAC) change;
/// - the IP header, TTL, options and every checksum are left as the client sent them (a partial
///   checksum is completed by the pipeline, not here), so the backend sees the client's packet exactly;
/// - the backend holds the VIP on a non-ARPing interface and answers the client directly: replies never
///   come back through the balancer, so there is no reverse path to rewrite.</summary>
public sealed class DirectRoutingForwarder : IForwarder
{
    public static readonly DirectRoutingForwarder Instance = new();

    private DirectRoutingForwarder() { }

    public DropReason Rewrite(Span<byte> frame, in PacketInfo packet, BackendSnapshot backend, MacAddress backendMac, MacAddress egressMac)
    {
        backendMac.Write(frame);
        egressMac.Write(frame[6..]);
        return DropReason.None;
    }
}
