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
///   <c>on_backend_down: reassign</c>) a flow of an unhealthy backend are given the scheduler's pick
///   (<see cref="BackendScheduler"/>: <c>maglev[hash % size]</c> by default, wlc, wrr, within connection limits);
/// - nothing is remembered for a packet that cannot be delivered (no backend, MAC unresolved, beyond
///   <c>new_flow_rate</c>): its retransmit decides again;
/// - a flow first seen without a SYN is remembered as embryonic (the SYN timeout) until its next packet, and a
///   full bucket gives up embryonic entries first (<see cref="FlowTable{TKey}"/>): an ACK flood does not push out
///   real flows;
/// - an ICMP error to the VIP quoting one of the service's flows goes to that flow's backend (IPVS and Katran do
///   the same): path MTU discovery works through the balancer;
/// - with <c>ha.sync</c>, a new flow and a change of state are offered to the peer (<see cref="Sync.WorkerSync"/>);
///   IPv6 flows are not synced yet.
/// IPv6 (DR6) follows the same rules: only the MACs change (the hop limit too stays as the client sent it), its flows
/// are kept in the worker's IPv6 flow table, and an ICMPv6 error about a flow (Packet Too Big above all) goes to the
/// flow's backend.
/// No settings of its own: one instance serves every DR service.</summary>
public sealed class DirectRoutingForwarder : IForwarder
{
    public static readonly DirectRoutingForwarder Instance = new();

    private DirectRoutingForwarder() { }

    public Verdict Forward(ref ParsedPacket packet, ServiceSnapshot service, WorkerState worker)
    {
        var reason = Decide(worker.Flows, packet.Key, packet.Hash, packet.TcpFlags, packet.IsTcp, packet.NowMs, service, worker, out var backend);
        if (reason != DropReason.None) return worker.Drop(reason);
        var mac = worker.Neighbors.Mac(backend!.NeighborIndex);
        if (mac.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);
        if (!packet.CompleteChecksum()) return worker.Drop(DropReason.ChecksumOffsetInvalid);
        Rewrite(packet.Frame, mac, worker.Interfaces.Mac(service.EgressInterface));
        return worker.Transmit(ref packet, service.EgressInterface, service.Id, backend.Id);
    }

    public Verdict Forward6(ref ParsedPacket6 packet, ServiceSnapshot service, WorkerState worker)
    {
        if (worker.Flows6 is not { } flows) return worker.Drop(DropReason.NoBackend);
        var reason = Decide(flows, packet.Key, packet.Hash, packet.TcpFlags, packet.IsTcp, packet.NowMs, service, worker, out var backend);
        if (reason != DropReason.None) return worker.Drop(reason);
        var mac = worker.Neighbors.Mac(backend!.NeighborIndex);
        if (mac.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);
        if (!packet.CompleteChecksum()) return worker.Drop(DropReason.ChecksumOffsetInvalid);
        Rewrite(packet.Frame, mac, worker.Interfaces.Mac(service.EgressInterface));
        return worker.Transmit(ref packet, service.EgressInterface, service.Id, backend.Id);
    }

    /// <summary>An ICMPv6 error about an IPv6 flow, as <see cref="ForwardIcmpError"/> for IPv4.</summary>
    public Verdict ForwardIcmpError6(ref ParsedPacket6 packet, in FlowKey6 flow, uint hash, ServiceSnapshot service, WorkerState worker)
    {
        BackendSnapshot? backend = null;
        if (worker.Flows6 is { } flows)
        {
            ref var entry = ref flows.Find(flow, hash, packet.NowMs);
            if (!Unsafe.IsNullRef(ref entry)) backend = service.BackendById(entry.BackendId);
        }
        return ForwardError(ref packet.Meta, packet.Frame, backend, hash, service, worker);
    }

    /// <summary>An ICMP error about a flow (fragmentation-needed on the reply path, above all) reaches the backend
    /// that serves the flow: the one the flow table remembers, else the one Maglev gives its hash. Only MACs change,
    /// as for the flow's own packets; the flow's entry is not touched (an error is not the flow's activity).</summary>
    public Verdict ForwardIcmpError(ref ParsedPacket packet, in QuotedDatagram quote, in FlowKey flow, uint hash, ServiceSnapshot service, WorkerState worker)
    {
        BackendSnapshot? backend = null;
        ref var entry = ref worker.Flows.Find(flow, hash, packet.NowMs);
        if (!Unsafe.IsNullRef(ref entry)) backend = service.BackendById(entry.BackendId);
        return ForwardError(ref packet.Meta, packet.Frame, backend, hash, service, worker);
    }

    /// <summary>An error's way for either family: to <paramref name="backend"/> (the flow's), else Maglev's for the hash.</summary>
    private static Verdict ForwardError(ref FrameMeta meta, Span<byte> frame, BackendSnapshot? backend, uint hash, ServiceSnapshot service, WorkerState worker)
    {
        if (backend is null)
        {
            var slot = service.Table.Lookup(hash);
            if (slot < 0) return worker.Drop(DropReason.NoBackend);
            backend = service.Backends[slot];
        }
        var mac = worker.Neighbors.Mac(backend.NeighborIndex);
        if (mac.IsZero) return worker.Drop(DropReason.BackendMacUnresolved);
        Rewrite(frame, mac, worker.Interfaces.Mac(service.EgressInterface));
        return worker.Transmit(ref meta, frame.Length, service.EgressInterface, service.Id, backend.Id);
    }

    /// <summary>The rewrite half: the frame's MACs, nothing else.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Rewrite(Span<byte> frame, MacAddress backendMac, MacAddress egressMac)
    {
        backendMac.Write(frame);
        egressMac.Write(frame[6..]);
    }

    /// <summary>The decide half, for either family's table: the flow's backend from the flow table, else from Maglev
    /// (and remembered). Generic so the JIT compiles it per key type: the IPv4 copy is what it was before IPv6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason Decide<TKey>(FlowTable<TKey> flows, in TKey key, uint hash, TcpFlags tcpFlags, bool isTcp, long nowMs, ServiceSnapshot service,
        WorkerState worker, out BackendSnapshot? backend) where TKey : struct, IEquatable<TKey>
    {
        backend = null;
        ref var flow = ref flows.Find(key, hash, nowMs);
        if (!Unsafe.IsNullRef(ref flow))
        {
            var isNewSyn = isTcp && (tcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;
            // A fresh SYN on a closing flow is a new connection reusing the 5-tuple: decide again.
            if (!(isNewSyn && flow.State == FlowState.TcpClosing))
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
            var slot = BackendScheduler.Pick(service, hash, worker);
            if (slot < 0) return slot == BackendScheduler.Full ? DropReason.BackendsFull : DropReason.NoBackend;
            backend = service.Backends[slot];
            if (worker.Neighbors.Mac(backend.NeighborIndex).IsZero) return DropReason.BackendMacUnresolved;
            if (!worker.AdmitNewFlow(nowMs)) return DropReason.NewFlowRateExceeded;
            var state = FlowTable.InitialState(isTcp, tcpFlags);
            if (Unsafe.IsNullRef(ref flow))
                flow = ref flows.Insert(key, hash, backend.Id, state, nowMs);
            else flows.Rebind(ref flow, backend.Id, state);
            worker.Counters.ServiceFlows[service.Id]++;
            worker.Counters.BackendFlows[backend.Id]++;
            flow.LastSeenMs = nowMs;
            Offer(worker, key, state, backend, nowMs);
            return DropReason.None;
        }
        var was = flow.State;
        flows.SetState(ref flow, FlowTable.Advance(was, isTcp, tcpFlags));
        flow.LastSeenMs = nowMs;
        if (flow.State != was) Offer(worker, key, flow.State, backend, nowMs);
        return DropReason.None;
    }

    /// <summary>Offers an IPv4 flow's change to the HA peer; the type test is decided per instantiation by the JIT.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Offer<TKey>(WorkerState worker, in TKey key, FlowState state, BackendSnapshot backend, long nowMs) where TKey : struct
    {
        if (typeof(TKey) == typeof(FlowKey)) worker.Sync?.Flow(Unsafe.As<TKey, FlowKey>(ref Unsafe.AsRef(in key)), state, backend, nowMs);
    }
}
