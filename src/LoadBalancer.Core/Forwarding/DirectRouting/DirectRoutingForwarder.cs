using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.DirectRouting;

/// <summary>Direct routing (LVS-DR, DSR).
/// Rewrite rules:
/// - only the Ethernet destination (the backend's MAC) and source (our egress interface's MAC) change;
/// - the IP header, TTL, options, the L4 header and payload stay exactly as the client sent them (a partial
///   checksum is completed, nothing else is touched), so the backend sees the client's packet.
/// Invariants:
/// - the backend holds the VIP on a non-ARPing interface and answers the client directly: replies never come
///   back through the balancer, so there is no reverse path and no state per reply;
/// - a flow keeps its backend (the flow table remembers it by stable id) while that backend is in the service,
///   even at weight 0; a new flow, a flow whose backend left, a fresh SYN on a closing flow and (under
///   <c>on_backend_down: reassign</c>) a flow of an unhealthy backend are given <c>maglev[hash % size]</c>;
/// - nothing is remembered for a packet that cannot be delivered (no backend, MAC unresolved, beyond
///   <c>new_flow_rate</c>): its retransmit decides again;
/// - a flow first seen without a SYN is remembered as embryonic (the SYN timeout) until its next packet, and a
///   full bucket gives up embryonic entries first (<see cref="FlowTable"/>): an ACK flood does not push out
///   real flows;
/// - an ICMP error to the VIP quoting one of the service's flows goes to that flow's backend (IPVS and Katran do
///   the same): path MTU discovery works through the balancer;
/// - with <c>ha.sync</c>, a new flow and a change of state are offered to the peer (<see cref="Sync.WorkerSync"/>).
/// No settings of its own: one instance serves every DR service.</summary>
public sealed class DirectRoutingForwarder : IForwarder
{
    public static readonly DirectRoutingForwarder Instance = new();

    private DirectRoutingForwarder() { }

    public Verdict Forward(ref ParsedPacket packet, ServiceSnapshot service, WorkerState worker)
    {
        var reason = Decide(ref packet, service, worker, out var backend);
        if (reason != DropReason.None) return worker.Drop(reason);
        var mac = worker.Neighbors.Mac(backend!.NeighborIndex);
        if (mac.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);
        if (!packet.CompleteChecksum()) return worker.Drop(DropReason.ChecksumOffsetInvalid);
        Rewrite(packet.Frame, mac, worker.Interfaces.Mac(service.EgressInterface));
        return worker.Transmit(ref packet, service.EgressInterface, service.Id, backend.Id);
    }

    /// <summary>An ICMP error about a flow (fragmentation-needed on the reply path, above all) reaches the backend
    /// that serves the flow: the one the flow table remembers, else the one Maglev gives its hash. Only MACs change,
    /// as for the flow's own packets; the flow's entry is not touched (an error is not the flow's activity).</summary>
    public Verdict ForwardIcmpError(ref ParsedPacket packet, in QuotedDatagram quote, in FlowKey flow, uint hash, ServiceSnapshot service, WorkerState worker)
    {
        BackendSnapshot? backend = null;
        ref var entry = ref worker.Flows.Find(flow, hash, packet.NowMs);
        if (!Unsafe.IsNullRef(ref entry)) backend = service.BackendById(entry.BackendId);
        if (backend is null)
        {
            var slot = service.Table.Lookup(hash);
            if (slot < 0) return worker.Drop(DropReason.NoBackend);
            backend = service.Backends[slot];
        }
        var mac = worker.Neighbors.Mac(backend.NeighborIndex);
        if (mac.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);
        Rewrite(packet.Frame, mac, worker.Interfaces.Mac(service.EgressInterface));
        return worker.Transmit(ref packet, service.EgressInterface, service.Id, backend.Id);
    }

    /// <summary>The rewrite half: the frame's MACs, nothing else.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Rewrite(Span<byte> frame, MacAddress backendMac, MacAddress egressMac)
    {
        backendMac.Write(frame);
        egressMac.Write(frame[6..]);
    }

    /// <summary>The decide half: the flow's backend from the flow table, else from Maglev (and remembered).</summary>
    private static DropReason Decide(ref ParsedPacket packet, ServiceSnapshot service, WorkerState worker, out BackendSnapshot? backend)
    {
        backend = null;
        var isTcp = packet.IsTcp;
        ref var flow = ref worker.Flows.Find(packet.Key, packet.Hash, packet.NowMs);
        if (!Unsafe.IsNullRef(ref flow))
        {
            // A fresh SYN on a closing flow is a new connection reusing the 5-tuple: decide again.
            if (!(packet.IsNewSyn && flow.State == FlowState.TcpClosing))
                backend = service.BackendById(flow.BackendId);
            if (backend is { IsDown: true })
            {
                switch (service.OnBackendDown)
                {
                    case BackendDownAction.Drop:
                        return DropReason.BackendDown;
                    case BackendDownAction.Reassign:
                        backend = null; // decided again below, from a table that no longer holds it
                        break;
                }
            }
        }

        if (backend is null)
        {
            var slot = service.Table.Lookup(packet.Hash);
            if (slot < 0) return DropReason.NoBackend;
            backend = service.Backends[slot];
            if (worker.Neighbors.Mac(backend.NeighborIndex).IsZero) return DropReason.BackendMacUnresolved;
            if (!worker.AdmitNewFlow(packet.NowMs)) return DropReason.NewFlowRateExceeded;
            var state = FlowTable.InitialState(isTcp, packet.TcpFlags);
            if (Unsafe.IsNullRef(ref flow))
                flow = ref worker.Flows.Insert(packet.Key, packet.Hash, backend.Id, state, packet.NowMs);
            else
            {
                flow.BackendId = backend.Id;
                flow.State = state;
            }
            worker.Counters.ServiceFlows[service.Id]++;
            worker.Counters.BackendFlows[backend.Id]++;
            flow.LastSeenMs = packet.NowMs;
            worker.Sync?.Flow(packet.Key, state, backend, packet.NowMs);
            return DropReason.None;
        }
        var was = flow.State;
        flow.State = FlowTable.Advance(was, isTcp, packet.TcpFlags);
        flow.LastSeenMs = packet.NowMs;
        if (flow.State != was) worker.Sync?.Flow(packet.Key, flow.State, backend, packet.NowMs);
        return DropReason.None;
    }
}
