using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>The shared per-packet path of one worker: parse (Ethernet, IPv4, TCP/UDP), leave what is not ours to
/// the kernel, drop and count what is malformed, find the service, compute the flow key and hash once, and hand
/// the parsed packet to what the snapshot bound for it: the service's <see cref="IForwarder"/> (frames to a
/// VIP), the <see cref="IReplyPath"/> of the interface it arrived on (frames from backends), or the
/// <see cref="IIcmpErrorPath"/>. It never asks which mode a service has. Allocates nothing, takes no locks and
/// never throws on frame content: every refusal is a counted <see cref="DropReason"/>.</summary>
public sealed class PacketProcessor(DataPlaneState state, WorkerState worker)
{
    public WorkerState Worker { get; } = worker;
    public WorkerCounters Counters => Worker.Counters;
    public FlowTable<FlowKey> Flows => Worker.Flows;

    /// <summary>One frame against the current snapshot (tests and benchmarks; the worker passes the snapshot
    /// it took for the batch).</summary>
    public Verdict Process(Span<byte> frame, ref FrameMeta meta, long nowMs) => Process(frame, ref meta, state.Current, nowMs);

    // Its own compilation root: inlined into a caller's loop it shares that caller's inlining budget, and the
    // JIT then leaves the mode's decide, rewrite and the hash as calls (measured: DR established 43 -> 55 ns).
    [MethodImpl(MethodImplOptions.NoInlining)]
    public Verdict Process(Span<byte> frame, ref FrameMeta meta, DataPlaneSnapshot snapshot, long nowMs)
    {
        var w = Worker;
        w.Counters.RxFrames++;
        // Our own transmissions (and the host's) show up on an ETH_P_ALL socket; never forward them again. Nor a
        // frame addressed to another host's MAC: a switch floods those when it forgets a port (an HA peer's link
        // just went down), and forwarding them would duplicate what that host still forwards; the kernel drops them.
        if (meta.PacketType >= PacketType.OtherHost) return w.Pass();

        var reason = EthernetFrame.TryParse(frame, out var eth);
        if (reason != DropReason.None) return w.Drop(reason);
        if (eth.EtherType != EtherTypes.Ipv4)
            return eth.EtherType == EtherTypes.Ipv6 && snapshot.HasIpv6 ? Process6(frame, ref meta, snapshot, nowMs, eth.PayloadOffset) : w.Pass();

        reason = Ipv4Packet.TryParse(eth.Payload, out var ip);
        if (reason != DropReason.None)
            return Malformed(w, snapshot, eth.Payload, meta.IngressInterface, meta.Truncated && reason == DropReason.Ipv4Truncated ? DropReason.RingTruncated : reason);

        // A VIP is ours only on the interface its service is served on; elsewhere it is another host's business.
        var toVip = snapshot.IsVipOn(ip.Destination, meta.IngressInterface);
        // A frame not for a VIP is ours only where a mode expects replies (NAT's backend side).
        IReplyPath? replies = null;
        if (!toVip && (replies = snapshot.RepliesOn(meta.IngressInterface)) is null) return w.Pass();
        // We would send it out untagged, on the wrong VLAN: the kernel has the tag, so it is the kernel's.
        if (meta.VlanStripped)
        {
            w.Counters.VlanStrippedPassed++;
            return w.Pass();
        }
        if (meta.Truncated) return w.Drop(DropReason.RingTruncated);
        // Later fragments carry no ports, so they cannot be hashed like the first; we drop them all
        // rather than send pieces of one datagram to different backends.
        if (ip.IsFragment) return toVip ? w.Drop(DropReason.Ipv4Fragment) : w.Pass();

        // Fields set one by one rather than by an object initializer, which would build a copy first.
        var packet = new ParsedPacket(frame, ref meta, nowMs);
        packet.IpOffset = eth.PayloadOffset;
        packet.IpHeaderLength = ip.HeaderLength;
        packet.L4Offset = eth.PayloadOffset + ip.HeaderLength;
        packet.DatagramEnd = eth.PayloadOffset + ip.TotalLength;
        packet.DontFragment = ip.DontFragment;
        ushort sourcePort, destinationPort;
        switch (ip.Protocol)
        {
            case IpProtocols.Tcp:
                reason = TcpSegment.TryParse(ip.Payload, out var tcp);
                if (reason != DropReason.None) return toVip ? w.Drop(reason) : w.Pass();
                sourcePort = tcp.SourcePort;
                destinationPort = tcp.DestinationPort;
                packet.TcpFlags = tcp.Flags;
                packet.ChecksumOffset = TcpSegment.ChecksumOffset;
                packet.L4HeaderLength = tcp.HeaderLength;
                break;
            case IpProtocols.Udp:
                reason = UdpDatagram.TryParse(ip.Payload, out var udp);
                if (reason != DropReason.None) return toVip ? w.Drop(reason) : w.Pass();
                sourcePort = udp.SourcePort;
                destinationPort = udp.DestinationPort;
                packet.ChecksumOffset = UdpDatagram.ChecksumOffset;
                packet.L4HeaderLength = UdpDatagram.HeaderLength;
                break;
            case IpProtocols.Icmp:
                packet.Key = new FlowKey(IpProtocols.Icmp, ip.Source, ip.Destination, 0, 0);
                packet.ChecksumOffset = IcmpMessage.ChecksumOffset;
                packet.L4HeaderLength = IcmpMessage.HeaderLength;
                if (toVip) return IcmpToVip(ref packet, snapshot, w);
                return snapshot.IcmpErrors is { } icmp ? icmp.Handle(ref packet, snapshot, w) : w.Pass();
            default:
                return w.Pass();
        }

        var source = ip.Source;
        var destination = ip.Destination;
        var protocol = ip.Protocol;
        packet.Key = new FlowKey(protocol, source, destination, sourcePort, destinationPort);
        if (!toVip)
        {
            packet.Hash = FlowHash.Compute(protocol, source, destination, sourcePort, destinationPort, snapshot.HashSeed);
            return replies!.Reply(ref packet, snapshot, w);
        }

        var service = snapshot.FindService(destination, protocol, destinationPort, meta.IngressInterface);
        if (service is null) return w.Pass();
        packet.Hash = FlowHash.Compute(protocol, source, destination, sourcePort, destinationPort, snapshot.HashSeed);
        return service.Forwarder.Forward(ref packet, service, w);
    }

    /// <summary>ICMP to a VIP: an error about a service's flow goes where the flow goes (its mode decides); an error
    /// quoting nothing we serve, and every other ICMP message, is the kernel's.</summary>
    private static Verdict IcmpToVip(ref ParsedPacket packet, DataPlaneSnapshot snapshot, WorkerState w)
    {
        var frame = packet.Frame;
        if (IcmpMessage.TryParse(frame[packet.L4Offset..packet.DatagramEnd], out var icmp) != DropReason.None) return w.Drop(DropReason.IcmpTruncated);
        if (!IcmpError.NamesAFlow(icmp)) return w.Pass();
        if (!IcmpError.TryReadQuote(frame, packet.IpOffset, packet.L4Offset, packet.DatagramEnd, out var q)) return w.Drop(DropReason.IcmpTruncated);
        if (IcmpError.HasChecksumOffload(packet.Meta)) return w.Drop(DropReason.ChecksumOffsetInvalid);
        var flow = q.Reversed;
        var service = snapshot.FindService(flow.DestinationAddress, flow.Protocol, flow.DestinationPort, packet.Meta.IngressInterface);
        if (service is null) return w.Pass();
        var hash = FlowHash.Compute(flow, snapshot.HashSeed);
        return service.Forwarder.ForwardIcmpError(ref packet, q, flow, hash, service, w);
    }

    /// <summary>The IPv6 half of <see cref="Process"/>, for engines that serve an IPv6 VIP (others leave IPv6 to the
    /// kernel untouched, as before): the same steps, over the extension headers, against the IPv6 services only.
    /// Frames not to a VIP go to the interface's reply path (NAT66's replies) and ICMPv6 there to the snapshot's
    /// ICMP error path, as in IPv4; what those do not take, and anything malformed not to a VIP, is the kernel's.
    /// Extension headers are stepped over and kept (<see cref="Ipv6Packet"/>); a fragment to a VIP is dropped, as in
    /// IPv4; an upper layer other than TCP, UDP or ICMPv6 to a VIP is dropped and counted (nothing we serve speaks it).
    /// Neighbour discovery and ICMPv6 informational messages are the kernel's and the neighbour-discovery socket's.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Verdict Process6(Span<byte> frame, ref FrameMeta meta, DataPlaneSnapshot snapshot, long nowMs, int ipOffset)
    {
        var w = Worker;
        var ipBytes = frame[ipOffset..];
        var reason = Ipv6Packet.TryParse(ipBytes, out var ip);
        if (reason != DropReason.None)
        {
            // Not ours unless its destination is a VIP here (the kernel judges other hosts' traffic, BIG TCP included).
            if (ipBytes.Length >= Ipv6Packet.HeaderLength && !snapshot.IsVip6On(Ipv6Packet.ReadDestination(ipBytes), meta.IngressInterface)) return w.Pass();
            return w.Drop(meta.Truncated && reason == DropReason.Ipv6Truncated ? DropReason.RingTruncated : reason);
        }
        var destination = ip.Destination;
        var toVip = snapshot.IsVip6On(destination, meta.IngressInterface);
        // A frame not for a VIP is ours only where a mode expects replies (NAT66's backend side), as in IPv4; and only
        // in an engine with IPv6 NAT sessions, so one with IPv4 NAT beside DR6 leaves such IPv6 frames as it always did.
        IReplyPath? replies = null;
        if (!toVip && (w.Sessions6 is null || (replies = snapshot.RepliesOn(meta.IngressInterface)) is null)) return w.Pass();
        if (meta.VlanStripped)
        {
            w.Counters.VlanStrippedPassed++;
            return w.Pass();
        }
        if (meta.Truncated) return w.Drop(DropReason.RingTruncated);
        if (ip.IsFragment) return toVip ? w.Drop(DropReason.Ipv6Fragment) : w.Pass();

        var packet = new ParsedPacket6(frame, ref meta, nowMs);
        packet.IpOffset = ipOffset;
        packet.L4Offset = ipOffset + ip.PayloadOffset;
        packet.DatagramEnd = ipOffset + ip.TotalLength;
        ushort sourcePort, destinationPort;
        switch (ip.Protocol)
        {
            case IpProtocols.Tcp:
                reason = TcpSegment.TryParse(ip.Payload, out var tcp);
                if (reason != DropReason.None) return toVip ? w.Drop(reason) : w.Pass();
                sourcePort = tcp.SourcePort;
                destinationPort = tcp.DestinationPort;
                packet.TcpFlags = tcp.Flags;
                packet.ChecksumOffset = TcpSegment.ChecksumOffset;
                packet.L4HeaderLength = tcp.HeaderLength;
                break;
            case IpProtocols.Udp:
                reason = UdpDatagram.TryParse(ip.Payload, out var udp);
                if (reason != DropReason.None) return toVip ? w.Drop(reason) : w.Pass();
                sourcePort = udp.SourcePort;
                destinationPort = udp.DestinationPort;
                packet.ChecksumOffset = UdpDatagram.ChecksumOffset;
                packet.L4HeaderLength = UdpDatagram.HeaderLength;
                break;
            case IpProtocols.Icmpv6:
                if (toVip) return Icmpv6ToVip(ref packet, ip.Payload, ip.Source, destination, snapshot, w);
                packet.Key = new FlowKey6(IpProtocols.Icmpv6, ip.Source, destination, 0, 0);
                return snapshot.IcmpErrors is { } icmp ? icmp.Handle6(ref packet, ip.Payload, snapshot, w) : w.Pass();
            default:
                // Nothing we serve speaks it; on a reply path's interface it is another conversation, the kernel's.
                return toVip ? w.Drop(DropReason.Ipv6UnknownNextHeader) : w.Pass();
        }
        var source = ip.Source;
        var protocol = ip.Protocol;
        if (!toVip)
        {
            packet.Key = new FlowKey6(protocol, source, destination, sourcePort, destinationPort);
            packet.Hash = FlowHash.Compute6(protocol, source, destination, sourcePort, destinationPort, snapshot.HashSeed);
            return replies!.Reply6(ref packet, snapshot, w);
        }
        var service = snapshot.FindService6(destination, protocol, destinationPort, meta.IngressInterface);
        if (service is null) return w.Pass();
        packet.Key = new FlowKey6(protocol, source, destination, sourcePort, destinationPort);
        packet.Hash = FlowHash.Compute6(protocol, source, destination, sourcePort, destinationPort, snapshot.HashSeed);
        return service.Forwarder.Forward6(ref packet, service, w);
    }

    /// <summary>ICMPv6 to an IPv6 VIP: an error (destination unreachable, packet too big, time exceeded, parameter
    /// problem) quoting one of a service's flows goes where that flow goes; everything else (neighbour discovery,
    /// echo) is the kernel's.</summary>
    private static Verdict Icmpv6ToVip(ref ParsedPacket6 packet, Span<byte> icmp, UInt128 source, UInt128 destination, DataPlaneSnapshot snapshot, WorkerState w)
    {
        if (icmp.Length < Icmpv6Quote.HeaderLength) return w.Drop(DropReason.IcmpTruncated);
        if (!Icmpv6Quote.IsError(icmp[0])) return w.Pass();
        if (!Icmpv6Quote.TryRead(icmp, out var quoted)) return w.Drop(DropReason.IcmpTruncated);
        if (IcmpError.HasChecksumOffload(packet.Meta)) return w.Drop(DropReason.ChecksumOffsetInvalid);
        var flow = quoted.Reversed;
        var service = snapshot.FindService6(flow.DestinationAddress, flow.Protocol, flow.DestinationPort, packet.Meta.IngressInterface);
        if (service is null) return w.Pass();
        // The outer addresses, as for IPv4: NAT66 asks whether the error was addressed to the session's VIP.
        packet.Key = new FlowKey6(IpProtocols.Icmpv6, source, destination, 0, 0);
        var hash = FlowHash.Compute6(flow, snapshot.HashSeed);
        return service.Forwarder.ForwardIcmpError6(ref packet, flow, hash, service, w);
    }

    /// <summary>An IPv4 header we cannot use. If its destination is readable and not a VIP it is not our
    /// business (the kernel judges other hosts' traffic, e.g. BIG TCP frames with total length 0); otherwise
    /// it is dropped and counted under <paramref name="reason"/>.</summary>
    private static Verdict Malformed(WorkerState w, DataPlaneSnapshot snapshot, Span<byte> ipBytes, int ingress, DropReason reason)
    {
        if (ipBytes.Length >= Ipv4Packet.MinimumHeaderLength && !snapshot.IsVipOn(BinaryPrimitives.ReadUInt32BigEndian(ipBytes[16..]), ingress))
            return w.Pass();
        return w.Drop(reason);
    }
}
