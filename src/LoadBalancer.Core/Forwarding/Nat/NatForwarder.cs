using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>NAT, client to backend. The other direction is <see cref="NatReplyPath"/>, ICMP errors are
/// <see cref="NatIcmpPath"/>; all three share the worker's <see cref="NatSessionTable"/>.
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
///   (<see cref="Sync.WorkerSync"/>), so the peer can answer the client when it takes over.</summary>
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
        backend = null;
        var sessions = worker.Sessions;
        var isNewSyn = packet.IsNewSyn;
        var clientHop = packet.EthernetSource;
        ref var session = ref sessions.FindForward(packet.Key, packet.Hash, packet.NowMs);
        if (!Unsafe.IsNullRef(ref session))
        {
            backend = service.BackendById(session.BackendId);
            if (backend is null || (isNewSyn && session.State == FlowState.TcpClosing))
            {
                sessions.Remove(ref session);
                session = ref Unsafe.NullRef<NatSession>();
                backend = null;
            }
            else if (backend.IsDown && service.OnBackendDown != BackendDownAction.Keep)
            {
                if (service.OnBackendDown == BackendDownAction.Reassign) sessions.Remove(ref session);
                return DropReason.BackendDown;
            }
        }

        if (Unsafe.IsNullRef(ref session))
        {
            if (packet.IsTcp && !isNewSyn && !Settings.TcpPickup) return DropReason.NatNoSession;
            var slot = service.Table.Lookup(packet.Hash);
            if (slot < 0) return DropReason.NoBackend;
            backend = service.Backends[slot];
            if (worker.Neighbors.Mac(backend.NeighborIndex).IsZero) return DropReason.BackendMacUnresolved;
            if (!worker.AdmitNewFlow(packet.NowMs)) return DropReason.NewFlowRateExceeded;
            var template = Settings.NewSession(packet.Key, packet.Hash, service, backend, clientHop,
                FlowTable.InitialState(packet.IsTcp, packet.TcpFlags), packet.NowMs);
            session = ref sessions.Create(template, packet.NowMs);
            if (Unsafe.IsNullRef(ref session)) return DropReason.SessionTableFull;
            worker.Counters.ServiceFlows[service.Id]++;
            worker.Counters.BackendFlows[backend.Id]++;
            worker.Sync?.Session(session, backend);
            return DropReason.None;
        }
        var was = session.State;
        session.State = FlowTable.Advance(was, packet.IsTcp, packet.TcpFlags);
        session.LastSeenMs = packet.NowMs;
        session.ClientHop = clientHop;
        if (session.State != was) worker.Sync?.Session(session, backend!);
        return DropReason.None;
    }

    // IPv6 in this mode is refused by lb check until it is implemented, so no IPv6 service is bound here; were one
    // to be, its frames are the kernel's, as before IPv6 was parsed at all.
    public Verdict Forward6(ref ParsedPacket6 packet, ServiceSnapshot service, WorkerState worker) => worker.Pass();

    public Verdict ForwardIcmpError6(ref ParsedPacket6 packet, in FlowKey6 flow, uint hash, ServiceSnapshot service, WorkerState worker) => worker.Pass();
}
