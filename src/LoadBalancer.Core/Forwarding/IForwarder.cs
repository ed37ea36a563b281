using LoadBalancer.Core.IO;

namespace LoadBalancer.Core.Forwarding;

/// <summary>A forwarding mode, bound to a service when its snapshot is built (as IPVS binds the transmitter when
/// a connection is set up), so the packet path never branches on mode. It decides the backend (or, for
/// CLUSTERIP, whether this node takes the flow) and rewrites the frame in place. Implementations allocate
/// nothing, take no locks and never throw on frame content: every refusal is a counted drop.</summary>
public interface IForwarder
{
    /// <summary>A TCP or UDP frame to the service's VIP:port, with <see cref="ParsedPacket.Key"/> and
    /// <see cref="ParsedPacket.Hash"/> set.</summary>
    Verdict Forward(ref ParsedPacket packet, ServiceSnapshot service, WorkerState worker);

    /// <summary>An ICMP error to the VIP about one of the service's flows (fragmentation-needed from a router on
    /// the reply path, above all): it goes where that flow goes. <paramref name="flow"/> is the flow as the client
    /// sends it (the quote turned around) and <paramref name="hash"/> its flow hash, the same as the flow's own.</summary>
    Verdict ForwardIcmpError(ref ParsedPacket packet, in QuotedDatagram quote, in Flows.FlowKey flow, uint hash, ServiceSnapshot service, WorkerState worker);

    /// <summary>A TCP or UDP frame to an IPv6 service's VIP:port, with <see cref="ParsedPacket6.Key"/> and
    /// <see cref="ParsedPacket6.Hash"/> set.</summary>
    Verdict Forward6(ref ParsedPacket6 packet, ServiceSnapshot service, WorkerState worker);

    /// <summary>An ICMPv6 error to an IPv6 VIP about one of the service's flows (<paramref name="flow"/> as the client
    /// sends it, <paramref name="hash"/> its flow hash).</summary>
    Verdict ForwardIcmpError6(ref ParsedPacket6 packet, in Flows.FlowKey6 flow, uint hash, ServiceSnapshot service, WorkerState worker);
}

/// <summary>Where a mode expects return traffic that is not addressed to a VIP (NAT: backends' replies on the
/// backend-side interface). Bound per interface in the snapshot; frames on interfaces without one that are not
/// for a VIP are left to the kernel.</summary>
public interface IReplyPath
{
    /// <summary>A TCP or UDP frame not to a VIP, arrived on this path's interface.</summary>
    Verdict Reply(ref ParsedPacket packet, DataPlaneSnapshot snapshot, WorkerState worker);

    /// <summary>An IPv6 TCP or UDP frame not to a VIP, arrived on this path's interface (<see cref="ParsedPacket6.Key"/>
    /// and <see cref="ParsedPacket6.Hash"/> set).</summary>
    Verdict Reply6(ref ParsedPacket6 packet, DataPlaneSnapshot snapshot, WorkerState worker);
}

/// <summary>The handler of ICMP messages on a reply path's interface that are not to a VIP, when some mode in the
/// snapshot expects errors about its flows there (NAT's backend side). Without one, such ICMP is the kernel's.</summary>
public interface IIcmpErrorPath
{
    Verdict Handle(ref ParsedPacket packet, DataPlaneSnapshot snapshot, WorkerState worker);

    /// <summary>An ICMPv6 message not to a VIP on a reply path's interface; <paramref name="icmp"/> is its ICMPv6
    /// part (to the datagram's end).</summary>
    Verdict Handle6(ref ParsedPacket6 packet, Span<byte> icmp, DataPlaneSnapshot snapshot, WorkerState worker);
}
