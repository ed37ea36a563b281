using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>NAT, backend to client: bound to each NAT service's backend-side interface, it takes the frames
/// there that are not for a VIP.
/// Rewrite rules (backend → client, a frame in a session):
/// - source address and port become VIP:port; TTL − 1; checksums updated incrementally as forward;
/// - destination MAC = the <c>gateway</c>'s (by ARP) when configured, else the hop the client's frames came
///   from; source MAC = <c>interface</c>'s; out of <c>interface</c>;
/// - a FIN or RST from the backend moves the session to closing.
/// Invariants:
/// - a frame in no session is left to the kernel and counted as <c>nat_replies_without_session</c>, except the
///   balancer's own conversations (health checks, addressed to the interface itself), which are simply the kernel's;
/// - under <c>on_backend_down: drop</c> a reply of an unhealthy backend is dropped (<c>backend_down</c>).
/// NAT66 (<see cref="Reply6"/>) follows the same rules over the worker's IPv6 sessions: hop limit for TTL, no header
/// checksum (<see cref="NatRewriter6"/>); an engine without IPv6 NAT sessions leaves IPv6 here to the kernel uncounted
/// (its IPv6 on this interface is DR6's or the host's, never a NAT reply).</summary>
public sealed class NatReplyPath(NatSettings?[] settingsByService) : IReplyPath
{
    public Verdict Reply(ref ParsedPacket packet, DataPlaneSnapshot snapshot, WorkerState worker)
    {
        ref var session = ref worker.Sessions.FindReverse(packet.Key, packet.Hash, packet.NowMs);
        // A session of a service that is gone or no longer NAT (a reload) is no session of ours.
        if (Unsafe.IsNullRef(ref session) || For(session.ServiceId) is not { } nat)
        {
            // The balancer's own conversations (health checks) are not "replies without a session".
            if (packet.Key.DestinationAddress != worker.Interfaces.Address(packet.Meta.IngressInterface)) worker.Counters.NatRepliesWithoutSession++;
            return worker.Pass();
        }
        // NAT updates checksums incrementally, which would carry a bad header checksum along unnoticed.
        if (!packet.HeaderChecksumValid) return worker.Drop(DropReason.Ipv4BadChecksum);

        var service = snapshot.ServiceById(session.ServiceId)!;
        var backend = service.BackendById(session.BackendId);
        if (backend is { IsDown: true } && service.OnBackendDown == BackendDownAction.Drop) return worker.Drop(DropReason.BackendDown);

        var nextHop = nat.ReplyNextHop(worker.Neighbors, session);
        if (nextHop.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);

        if (!packet.CompleteChecksum()) return worker.Drop(DropReason.ChecksumOffsetInvalid);
        var frame = packet.Frame;
        var headers = packet.Headers;
        if (!NatRewriter.DecrementTtl(frame, headers)) return worker.Drop(DropReason.TtlExpired);
        NatRewriter.RewriteSource(frame, headers, session.Forward.DestinationAddress, session.Forward.DestinationPort);
        nextHop.Write(frame);
        worker.Interfaces.Mac(service.IngressInterface).Write(frame[6..]);

        if (Replied(worker.Sessions, ref session, packet.IsTcp, packet.TcpFlags, packet.NowMs) && backend is not null) worker.Sync?.Session(session, backend);
        return worker.Transmit(ref packet, service.IngressInterface, service.Id, session.BackendId);
    }

    public Verdict Reply6(ref ParsedPacket6 packet, DataPlaneSnapshot snapshot, WorkerState worker)
    {
        if (worker.Sessions6 is not { } sessions) return worker.Pass();
        ref var session = ref sessions.FindReverse(packet.Key, packet.Hash, packet.NowMs);
        if (Unsafe.IsNullRef(ref session) || For(session.ServiceId) is not { } nat)
        {
            if (packet.Key.DestinationAddress != worker.Interfaces.Address6(packet.Meta.IngressInterface)) worker.Counters.NatRepliesWithoutSession++;
            return worker.Pass();
        }
        var service = snapshot.ServiceById(session.ServiceId)!;
        var backend = service.BackendById(session.BackendId);
        if (backend is { IsDown: true } && service.OnBackendDown == BackendDownAction.Drop) return worker.Drop(DropReason.BackendDown);

        var nextHop = nat.ReplyNextHop(worker.Neighbors, session);
        if (nextHop.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);

        if (!packet.CompleteChecksum()) return worker.Drop(DropReason.ChecksumOffsetInvalid);
        var frame = packet.Frame;
        var headers = packet.Headers;
        if (!NatRewriter6.DecrementHopLimit(frame, packet.IpOffset)) return worker.Drop(DropReason.TtlExpired);
        NatRewriter6.RewriteSource(frame, headers, session.Forward.DestinationAddress, session.Forward.DestinationPort);
        nextHop.Write(frame);
        worker.Interfaces.Mac(service.IngressInterface).Write(frame[6..]);
        Replied(sessions, ref session, packet.IsTcp, packet.TcpFlags, packet.NowMs);
        return worker.Transmit(ref packet, service.IngressInterface, service.Id, session.BackendId);
    }

    /// <summary>A reply went through the session: seen now, answered, and closing after the backend's FIN or RST.
    /// True when that changed its state.</summary>
    private static bool Replied<TKey>(NatSessionTable<TKey> sessions, ref NatSession<TKey> session, bool isTcp, TcpFlags flags, long nowMs)
        where TKey : struct, IEquatable<TKey>
    {
        session.LastSeenMs = nowMs;
        session.Replied = true;
        if (!isTcp || (flags & (TcpFlags.Fin | TcpFlags.Rst)) == 0 || session.State == FlowState.TcpClosing) return false;
        sessions.SetState(ref session, FlowState.TcpClosing);
        return true;
    }

    /// <summary>The settings of NAT service <paramref name="serviceId"/> in this reply path's snapshot, null when a
    /// reload removed the service (its sessions are no longer ours).</summary>
    internal NatSettings? For(int serviceId) =>
        (uint)serviceId < (uint)settingsByService.Length ? settingsByService[serviceId] : null;
}
