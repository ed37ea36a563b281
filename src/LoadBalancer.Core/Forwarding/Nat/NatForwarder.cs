using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>NAT, client to backend. The other direction is <see cref="NatReplyPath"/>, ICMP errors are
/// <see cref="NatIcmpPath"/>; all three share the worker's <see cref="NatSessionTable{TKey}"/>.
/// Rewrite rules (client → backend):
/// - destination address and port become the backend's (its <c>port:</c>, default the service port);
/// - TTL − 1: the balancer is a router hop here (a frame arriving with TTL ≤ 1 is <c>ttl_expired</c>);
/// - the IPv4 header checksum and the TCP/UDP checksum are updated incrementally (<see cref="NatRewriter"/>);
/// - destination MAC = the backend's, source MAC = <c>backend_interface</c>'s; out of <c>backend_interface</c>.
/// Invariants:
/// - a session is found from either side; a full table evicts an embryonic session for a new flow (a SYN not
///   yet acknowledged, UDP never answered) and refuses it (<c>session_table_full</c>) when every session is a
///   conversation; beyond <c>new_flow_rate</c> new flows are refused (<c>new_flow_rate_exceeded</c>);
/// - a TCP session opens only on a SYN unless <c>tcp_pickup</c> (<c>nat_no_session</c> otherwise);
/// - a session whose backend left, or a fresh SYN on a closing one, is replaced; under
///   <c>on_backend_down: reassign</c> a session of an unhealthy backend is removed at its next packet (and that
///   packet dropped, <c>backend_down</c>) so the client's next SYN goes elsewhere; <c>drop</c> keeps it and drops;
/// - what does not fit the backend side's MTU is answered with fragmentation-needed when DF is set
///   (<see cref="FragmentationNeeded"/>), never fragmented;
/// - the IPv4 header checksum of what is translated is verified first (<c>ipv4_bad_checksum</c>), since an
///   incremental update would carry a wrong one along unnoticed;
/// - with <c>ha.sync</c>, a new session and a change of state are offered to the peer with the client's next hop
///   (<see cref="Sync.WorkerSync"/>), so the peer can answer the client when it takes over.
/// NAT66 (<see cref="Forward6"/>) follows the same rules over the worker's IPv6 session table: hop limit for TTL,
/// no header checksum (<see cref="NatRewriter6"/>), Packet Too Big (<see cref="PacketTooBig"/>) for what does not fit,
/// whatever the sender asked; its sessions are not offered to the HA peer yet.</summary>
public sealed class NatForwarder(NatSettings settings) : IForwarder
{
    public NatSettings Settings { get; } = settings;

    public Verdict Forward(ref ParsedPacket packet, ServiceSnapshot service, WorkerState worker)
    {
        if (!packet.HeaderChecksumValid) return worker.Drop(DropReason.Ipv4BadChecksum);
        var reason = Decide(ref packet, service, worker, out var backend);
        if (reason != DropReason.None) return worker.Drop(reason);
        var mac = worker.Neighbors.Mac(backend!.NeighborIndex);
        if (mac.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);

        // The balancer is a router hop in NAT: what does not fit the backend side is answered, not lost.
        ref var meta = ref packet.Meta;
        var l3Length = meta.Vnet.IsGso ? packet.IpHeaderLength + packet.L4HeaderLength + meta.Vnet.GsoSize : packet.TotalLength;
        var mtu = worker.Interfaces.Mtu(service.EgressInterface);
        if (l3Length > mtu) return FragmentationNeeded.Answer(ref packet, packet.DontFragment || meta.Vnet.IsGso, mtu, service, worker);
        if (!packet.CompleteChecksum()) return worker.Drop(DropReason.ChecksumOffsetInvalid);

        var frame = packet.Frame;
        var headers = packet.Headers;
        if (!NatRewriter.DecrementTtl(frame, headers)) return worker.Drop(DropReason.TtlExpired);
        NatRewriter.RewriteDestination(frame, headers, backend.Address, backend.Port);
        mac.Write(frame);
        worker.Interfaces.Mac(service.EgressInterface).Write(frame[6..]);
        return worker.Transmit(ref packet, service.EgressInterface, service.Id, backend.Id);
    }

    /// <summary>An ICMP error from the client side about a session: translated to its backend (<see cref="NatIcmpPath"/>).</summary>
    public Verdict ForwardIcmpError(ref ParsedPacket packet, in QuotedDatagram quote, in FlowKey flow, uint hash, ServiceSnapshot service, WorkerState worker) =>
        NatIcmpPath.FromClientSide(ref packet, quote, flow, hash, service, worker);

    /// <summary>The decide half: the session's backend, or a new session.</summary>
    private DropReason Decide(ref ParsedPacket packet, ServiceSnapshot service, WorkerState worker, out BackendSnapshot? backend)
    {
        var sessions = worker.Sessions;
        var isNewSyn = packet.IsNewSyn;
        var clientHop = packet.EthernetSource;
        ref var session = ref Existing(sessions, packet.Key, packet.Hash, isNewSyn, packet.NowMs, service, out backend, out var reason);
        if (reason != DropReason.None) return reason;
        if (Unsafe.IsNullRef(ref session))
        {
            reason = Admit(packet.IsTcp, isNewSyn, packet.Hash, packet.NowMs, service, worker, out backend);
            if (reason != DropReason.None) return reason;
            var template = Settings.NewSession(packet.Key, packet.Hash, service, backend!, clientHop,
                FlowTable.InitialState(packet.IsTcp, packet.TcpFlags), packet.NowMs);
            session = ref sessions.Create(template, packet.NowMs);
            if (Unsafe.IsNullRef(ref session)) return DropReason.SessionTableFull;
            Opened(service, backend!, worker);
            worker.Sync?.Session(session, backend!);
            return DropReason.None;
        }
        if (Touch(sessions, ref session, packet.IsTcp, packet.TcpFlags, packet.NowMs, clientHop)) worker.Sync?.Session(session, backend!);
        return DropReason.None;
    }

    /// <summary>NAT66, client to backend: <see cref="Forward"/>'s rules for IPv6 (<see cref="NatRewriter6"/>): the
    /// hop limit stands for TTL, there is no header checksum to verify or update, and what does not fit the backend
    /// side is answered with Packet Too Big (<see cref="PacketTooBig"/>) whatever the sender asked: IPv6 routers never
    /// fragment. Sessions live in the worker's IPv6 table; they are not offered to the HA peer (state sync carries
    /// IPv4 sessions only so far).</summary>
    public Verdict Forward6(ref ParsedPacket6 packet, ServiceSnapshot service, WorkerState worker)
    {
        // Only an engine started with an IPv6 NAT service has the table; a reload cannot add one (as for DR6's flows).
        if (worker.Sessions6 is not { } sessions) return worker.Drop(DropReason.NoBackend);
        var reason = Decide6(sessions, ref packet, service, worker, out var backend);
        if (reason != DropReason.None) return worker.Drop(reason);
        var mac = worker.Neighbors.Mac(backend!.NeighborIndex);
        if (mac.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);

        ref var meta = ref packet.Meta;
        var l3Length = meta.Vnet.IsGso ? packet.L4Offset - packet.IpOffset + packet.L4HeaderLength + meta.Vnet.GsoSize : packet.DatagramEnd - packet.IpOffset;
        var mtu = worker.Interfaces.Mtu(service.EgressInterface);
        if (l3Length > mtu) return PacketTooBig.Answer(ref packet, mtu, service, worker);
        if (!packet.CompleteChecksum()) return worker.Drop(DropReason.ChecksumOffsetInvalid);

        var frame = packet.Frame;
        var headers = packet.Headers;
        if (!NatRewriter6.DecrementHopLimit(frame, packet.IpOffset)) return worker.Drop(DropReason.TtlExpired);
        NatRewriter6.RewriteDestination(frame, headers, backend.Address6, backend.Port);
        mac.Write(frame);
        worker.Interfaces.Mac(service.EgressInterface).Write(frame[6..]);
        return worker.Transmit(ref packet, service.EgressInterface, service.Id, backend.Id);
    }

    /// <summary>An ICMPv6 error from the client side about a NAT66 session: translated to its backend.</summary>
    public Verdict ForwardIcmpError6(ref ParsedPacket6 packet, in FlowKey6 flow, uint hash, ServiceSnapshot service, WorkerState worker) =>
        NatIcmpPath.FromClientSide6(ref packet, flow, hash, service, worker);

    /// <summary><see cref="Decide"/> for NAT66, over the IPv6 session table.</summary>
    private DropReason Decide6(NatSessionTable<FlowKey6> sessions, ref ParsedPacket6 packet, ServiceSnapshot service, WorkerState worker, out BackendSnapshot? backend)
    {
        var clientHop = packet.EthernetSource;
        ref var session = ref Existing(sessions, packet.Key, packet.Hash, packet.IsNewSyn, packet.NowMs, service, out backend, out var reason);
        if (reason != DropReason.None) return reason;
        if (Unsafe.IsNullRef(ref session))
        {
            reason = Admit(packet.IsTcp, packet.IsNewSyn, packet.Hash, packet.NowMs, service, worker, out backend);
            if (reason != DropReason.None) return reason;
            var template = Settings.NewSession6(packet.Key, packet.Hash, service, backend!, clientHop,
                FlowTable.InitialState(packet.IsTcp, packet.TcpFlags), packet.NowMs);
            session = ref sessions.Create(template, packet.NowMs);
            if (Unsafe.IsNullRef(ref session)) return DropReason.SessionTableFull;
            Opened(service, backend!, worker);
            return DropReason.None;
        }
        Touch(sessions, ref session, packet.IsTcp, packet.TcpFlags, packet.NowMs, clientHop);
        return DropReason.None;
    }

    /// <summary>The live session of the client's flow, or a null ref when there is none to keep: a session whose
    /// backend left, or a closing one a fresh SYN reopens, is removed. A session of an unhealthy backend under
    /// <c>on_backend_down: drop</c> or <c>reassign</c> gives <c>backend_down</c> (reassign removing it first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref NatSession<TKey> Existing<TKey>(NatSessionTable<TKey> sessions, scoped in TKey key, uint hash, bool isNewSyn, long nowMs,
        ServiceSnapshot service, out BackendSnapshot? backend, out DropReason reason) where TKey : struct, IEquatable<TKey>
    {
        reason = DropReason.None;
        backend = null;
        ref var session = ref sessions.FindForward(key, hash, nowMs);
        if (Unsafe.IsNullRef(ref session)) return ref session;
        backend = service.BackendById(session.BackendId);
        if (backend is null || (isNewSyn && session.State == FlowState.TcpClosing))
        {
            sessions.Remove(ref session);
            backend = null;
            return ref Unsafe.NullRef<NatSession<TKey>>();
        }
        if (backend.IsDown && service.OnBackendDown != BackendDownAction.Keep)
        {
            if (service.OnBackendDown == BackendDownAction.Reassign) sessions.Remove(ref session);
            reason = DropReason.BackendDown;
        }
        return ref session;
    }

    /// <summary>Whether a flow without a session may open one, and to which backend: a TCP flow only on a SYN unless
    /// <c>tcp_pickup</c>, a backend whose MAC is known, within <c>new_flow_rate</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DropReason Admit(bool isTcp, bool isNewSyn, uint hash, long nowMs, ServiceSnapshot service, WorkerState worker, out BackendSnapshot? backend)
    {
        backend = null;
        if (isTcp && !isNewSyn && !Settings.TcpPickup) return DropReason.NatNoSession;
        var slot = BackendScheduler.Pick(service, hash, worker);
        if (slot < 0) return slot == BackendScheduler.Full ? DropReason.BackendsFull : DropReason.NoBackend;
        backend = service.Backends[slot];
        if (worker.Neighbors.Mac(backend.NeighborIndex).IsZero) return DropReason.BackendMacUnresolved;
        if (!worker.AdmitNewFlow(nowMs)) return DropReason.NewFlowRateExceeded;
        return DropReason.None;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Opened(ServiceSnapshot service, BackendSnapshot backend, WorkerState worker)
    {
        worker.Counters.ServiceFlows[service.Id]++;
        worker.Counters.BackendFlows[backend.Id]++;
    }

    /// <summary>A packet of a live session: its state moves on, it was seen now, from this hop. True when the state changed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Touch<TKey>(NatSessionTable<TKey> sessions, ref NatSession<TKey> session, bool isTcp, TcpFlags flags, long nowMs, MacAddress clientHop)
        where TKey : struct, IEquatable<TKey>
    {
        var was = session.State;
        sessions.SetState(ref session, FlowTable.Advance(was, isTcp, flags));
        session.LastSeenMs = nowMs;
        session.ClientHop = clientHop;
        return session.State != was;
    }
}
