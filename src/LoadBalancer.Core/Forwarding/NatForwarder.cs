using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>NAT, client to backend: destination address and port become the backend's (see
/// <see cref="NatRewriter"/> for the checksum rules), MACs become backend / our backend-side interface.
/// The balancer is a router hop here, so the TTL is decremented first (a frame whose TTL runs out is
/// <c>ttl_expired</c>). The reverse direction (backend to client) is
/// driven by the session table in <see cref="PacketProcessor"/>, since it starts from a reply, not a service.</summary>
public sealed class NatForwarder : IForwarder
{
    public static readonly NatForwarder Instance = new();

    private NatForwarder() { }

    public DropReason Rewrite(Span<byte> frame, in PacketInfo packet, BackendSnapshot backend, MacAddress backendMac, MacAddress egressMac)
    {
        if (!NatRewriter.DecrementTtl(frame, packet)) return DropReason.TtlExpired;
        NatRewriter.RewriteDestination(frame, packet, backend.Address, backend.Port);
        backendMac.Write(frame);
        egressMac.Write(frame[6..]);
        return DropReason.None;
    }
}
