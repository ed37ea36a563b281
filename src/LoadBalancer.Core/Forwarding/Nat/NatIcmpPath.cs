using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>NAT, ICMP errors about a session (see <see cref="NatIcmp"/> for the byte rules).
/// - From the client side (to a VIP, handed over by <see cref="NatForwarder"/>) an error quotes a reply we sent as
///   VIP:port; it goes on to the backend, the quote's source and (when the error was addressed to the VIP) the
///   outer destination becoming the backend's.
/// - From the backend side (bound in a snapshot that has a NAT service, for the reply paths' interfaces) it quotes a
///   packet we sent to the backend; it goes back to the client as if the VIP had sent the packet: the quote's
///   destination becomes VIP:port, and an error from the backend itself speaks for the VIP (a router's behind it
///   keeps its address). Only when it is addressed to the session's client: anything else is forged
///   (<c>icmp_forged</c>), or the balancer would emit whatever ICMP anyone on the backend segment asks it to, to
///   any address on the client side.
/// - the outer IPv4 header checksum is verified first (<c>ipv4_bad_checksum</c>), as for every translated frame;
/// - TTL − 1 as for any forwarded frame. Redirects and non-errors are left to the kernel; an error quoting no
///   session is dropped (<c>nat_no_session</c>) when it came to a VIP, else left to the kernel and counted as a
///   reply without a session (unless addressed to the balancer itself).
/// NAT66 (<see cref="Handle6"/>, <see cref="FromClientSide6"/>) follows the same rules for ICMPv6 errors over the
/// worker's IPv6 sessions (<see cref="NatIcmp6"/> for the bytes): hop limit for TTL, no header checksum to verify;
/// neighbour discovery and informational messages are the kernel's.</summary>
public sealed class NatIcmpPath(NatReplyPath replies) : IIcmpErrorPath
{
    public Verdict Handle(ref ParsedPacket packet, DataPlaneSnapshot snapshot, WorkerState worker)
    {
        var frame = packet.Frame;
        var icmpOffset = packet.L4Offset;
        var end = packet.DatagramEnd;
        if (IcmpMessage.TryParse(frame[icmpOffset..end], out var icmp) != DropReason.None || !IcmpError.NamesAFlow(icmp)) return worker.Pass();
        if (!IcmpError.TryReadQuote(frame, packet.IpOffset, icmpOffset, end, out var q)) return worker.Pass();
        var key = q.Reversed;
        var hash = FlowHash.Compute(key, snapshot.HashSeed);
        ref var session = ref worker.Sessions.FindReverse(key, hash, packet.NowMs);
        if (Unsafe.IsNullRef(ref session) || replies.For(session.ServiceId) is not { } nat)
        {
            if (packet.Key.DestinationAddress != worker.Interfaces.Address(packet.Meta.IngressInterface)) worker.Counters.NatRepliesWithoutSession++;
            return worker.Pass();
        }
        if (packet.Key.DestinationAddress != session.Forward.SourceAddress) return worker.Drop(DropReason.IcmpForged);
        // Translated incrementally, which would carry a bad header checksum along unnoticed.
        if (!packet.HeaderChecksumValid) return worker.Drop(DropReason.Ipv4BadChecksum);
        if (IcmpError.HasChecksumOffload(packet.Meta)) return worker.Drop(DropReason.ChecksumOffsetInvalid);
        var service = snapshot.ServiceById(session.ServiceId)!;
        var nextHop = nat.ReplyNextHop(worker.Neighbors, session);
        if (nextHop.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);
        if (!NatRewriter.DecrementTtl(packet.Frame, packet.Headers)) return worker.Drop(DropReason.TtlExpired);
        // An error from the backend itself speaks for the VIP; one from a router behind it keeps its source.
        NatIcmp.Translate(packet.Frame, q, QuotedSide.Destination, session.Forward.DestinationAddress, session.Forward.DestinationPort,
            packet.Key.SourceAddress == session.Reverse.SourceAddress ? session.Forward.DestinationAddress : null);
        nextHop.Write(packet.Frame);
        worker.Interfaces.Mac(service.IngressInterface).Write(packet.Frame[6..]);
        return worker.Transmit(ref packet, service.IngressInterface, service.Id, backendId: -1);
    }

    /// <summary>An error from the client side about session <paramref name="key"/> of <paramref name="service"/>.</summary>
    public static Verdict FromClientSide(ref ParsedPacket packet, in QuotedDatagram q, in FlowKey key, uint hash, ServiceSnapshot service, WorkerState worker)
    {
        ref var session = ref worker.Sessions.FindForward(key, hash, packet.NowMs);
        if (Unsafe.IsNullRef(ref session) || session.ServiceId != service.Id) return worker.Drop(DropReason.NatNoSession);
        if (!packet.HeaderChecksumValid) return worker.Drop(DropReason.Ipv4BadChecksum);
        var backend = service.BackendById(session.BackendId);
        if (backend is null) return worker.Drop(DropReason.NoBackend);
        var mac = worker.Neighbors.Mac(backend.NeighborIndex);
        if (mac.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);
        if (!NatRewriter.DecrementTtl(packet.Frame, packet.Headers)) return worker.Drop(DropReason.TtlExpired);
        NatIcmp.Translate(packet.Frame, q, QuotedSide.Source, backend.Address, backend.Port,
            packet.Key.DestinationAddress == session.Forward.DestinationAddress ? backend.Address : null);
        mac.Write(packet.Frame);
        worker.Interfaces.Mac(service.EgressInterface).Write(packet.Frame[6..]);
        return worker.Transmit(ref packet, service.EgressInterface, service.Id, backendId: -1);
    }

    public Verdict Handle6(ref ParsedPacket6 packet, Span<byte> icmp, DataPlaneSnapshot snapshot, WorkerState worker)
    {
        if (worker.Sessions6 is not { } sessions) return worker.Pass();
        if (icmp.Length < Icmpv6Quote.HeaderLength || !Icmpv6Quote.IsError(icmp[0])) return worker.Pass();
        if (!Icmpv6Quote.TryRead(icmp, out var q)) return worker.Pass();
        var key = q.Reversed;
        var hash = FlowHash.Compute6(key, snapshot.HashSeed);
        ref var session = ref sessions.FindReverse(key, hash, packet.NowMs);
        if (Unsafe.IsNullRef(ref session) || replies.For(session.ServiceId) is not { } nat)
        {
            if (packet.Key.DestinationAddress != worker.Interfaces.Address6(packet.Meta.IngressInterface)) worker.Counters.NatRepliesWithoutSession++;
            return worker.Pass();
        }
        if (packet.Key.DestinationAddress != session.Forward.SourceAddress) return worker.Drop(DropReason.IcmpForged);
        if (IcmpError.HasChecksumOffload(packet.Meta)) return worker.Drop(DropReason.ChecksumOffsetInvalid);
        var service = snapshot.ServiceById(session.ServiceId)!;
        var nextHop = nat.ReplyNextHop(worker.Neighbors, session);
        if (nextHop.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);
        if (!NatRewriter6.DecrementHopLimit(packet.Frame, packet.IpOffset)) return worker.Drop(DropReason.TtlExpired);
        // An error from the backend itself speaks for the VIP; one from a router behind it keeps its source.
        NatIcmp6.Translate(packet.Frame, packet.IpOffset, packet.L4Offset, packet.DatagramEnd, QuotedSide.Destination,
            session.Forward.DestinationAddress, session.Forward.DestinationPort,
            packet.Key.SourceAddress == session.Reverse.SourceAddress ? session.Forward.DestinationAddress : null);
        nextHop.Write(packet.Frame);
        worker.Interfaces.Mac(service.IngressInterface).Write(packet.Frame[6..]);
        return worker.Transmit(ref packet, service.IngressInterface, service.Id, backendId: -1);
    }

    /// <summary>An ICMPv6 error from the client side about NAT66 session <paramref name="key"/> of <paramref name="service"/>
    /// (<see cref="ParsedPacket6.Key"/>'s destination is the VIP it was sent to).</summary>
    public static Verdict FromClientSide6(ref ParsedPacket6 packet, in FlowKey6 key, uint hash, ServiceSnapshot service, WorkerState worker)
    {
        if (worker.Sessions6 is not { } sessions) return worker.Drop(DropReason.NatNoSession);
        ref var session = ref sessions.FindForward(key, hash, packet.NowMs);
        if (Unsafe.IsNullRef(ref session) || session.ServiceId != service.Id) return worker.Drop(DropReason.NatNoSession);
        var backend = service.BackendById(session.BackendId);
        if (backend is null) return worker.Drop(DropReason.NoBackend);
        var mac = worker.Neighbors.Mac(backend.NeighborIndex);
        if (mac.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);
        if (!NatRewriter6.DecrementHopLimit(packet.Frame, packet.IpOffset)) return worker.Drop(DropReason.TtlExpired);
        NatIcmp6.Translate(packet.Frame, packet.IpOffset, packet.L4Offset, packet.DatagramEnd, QuotedSide.Source, backend.Address6, backend.Port,
            packet.Key.DestinationAddress == session.Forward.DestinationAddress ? backend.Address6 : null);
        mac.Write(packet.Frame);
        worker.Interfaces.Mac(service.EgressInterface).Write(packet.Frame[6..]);
        return worker.Transmit(ref packet, service.EgressInterface, service.Id, backendId: -1);
    }
}
