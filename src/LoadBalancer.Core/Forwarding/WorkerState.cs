using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding.Nat;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Sync;

namespace LoadBalancer.Core.Forwarding;

/// <summary>What one worker owns and what it reads that is shared: its flow table (DR, CLUSTERIP), its NAT
/// session tables (IPv4, and IPv6 where served), its counters; the neighbour table and the interface plan all workers share. Every mode gets
/// it with each packet, and ends each packet with one of <see cref="Transmit"/>, <see cref="Drop"/> or
/// <see cref="Pass"/>, which keep the counters. Single-threaded by design: only its worker writes it.</summary>
public sealed class WorkerState(WorkerCounters counters, FlowTable<FlowKey> flows, NatSessionTable<FlowKey> sessions, NeighborTable neighbors, InterfacePlan interfaces)
{
    public WorkerCounters Counters { get; } = counters;
    public FlowTable<FlowKey> Flows { get; } = flows;
    /// <summary>IPv6 flows (DR6), or null when the engine started without an IPv6 service: a table of their own,
    /// as their slots are larger; allocated at start only where IPv6 is served.</summary>
    public FlowTable<FlowKey6>? Flows6 { get; init; }
    public NatSessionTable<FlowKey> Sessions { get; } = sessions;
    /// <summary>IPv6 NAT sessions (NAT66), or null when the engine started without an IPv6 NAT service: like
    /// <see cref="Flows6"/>, a table of its own, allocated at start only where it is needed.</summary>
    public NatSessionTable<FlowKey6>? Sessions6 { get; init; }
    public NeighborTable Neighbors { get; } = neighbors;
    public InterfacePlan Interfaces { get; } = interfaces;
    /// <summary>State sync with the HA peer (<c>ha.sync</c>), or null: then nothing is offered or installed.</summary>
    public WorkerSync? Sync { get; init; }
    /// <summary>Per-source limit on the ICMP errors this worker builds.</summary>
    public IcmpRateLimit IcmpErrors { get; } = new();
    /// <summary>Every worker's flow counts per backend, this one's included: what wlc and connection limits read.
    /// Alone (this worker's own tally) unless the engine shares one across its workers.</summary>
    public Scheduling.BackendLoad Load { get; init; } = new(counters.Tally);
    /// <summary>This worker's wrr credits by backend id (<see cref="Scheduling.WeightedRoundRobin"/>): its own, so
    /// a pick takes no lock; each worker's picks keep to the weights on their own.</summary>
    public long[] RoundRobinCredits { get; } = new long[WorkerCounters.MaxBackendIds];
    /// <summary>Room for a new flow's pick (<see cref="BackendScheduler"/>).</summary>
    public SchedulerScratch Scratch { get; } = new();
    /// <summary>The cap on new flows (<c>new_flow_rate</c>), or null: uncapped.</summary>
    public NewFlowRate? NewFlows { get; init; }

    /// <summary>Whether a packet that would create a flow or session may: false beyond <c>new_flow_rate</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool AdmitNewFlow(long nowMs) => NewFlows is not { } rate || rate.TryAdmit(nowMs);

    /// <summary>The frame leaves out of <paramref name="egressInterface"/>, counted for the service and, when
    /// <paramref name="backendId"/> is not -1, for the backend.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Verdict Transmit(ref ParsedPacket packet, int egressInterface, int serviceId, int backendId) =>
        Transmit(ref packet.Meta, packet.Frame.Length, egressInterface, serviceId, backendId);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Verdict Transmit(ref ParsedPacket6 packet, int egressInterface, int serviceId, int backendId) =>
        Transmit(ref packet.Meta, packet.Frame.Length, egressInterface, serviceId, backendId);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Verdict Transmit(ref FrameMeta meta, int length, int egressInterface, int serviceId, int backendId)
    {
        var c = Counters;
        meta.EgressInterface = egressInterface;
        c.ServicePackets[serviceId]++;
        c.ServiceBytes[serviceId] += length;
        if (backendId >= 0)
        {
            c.BackendPackets[backendId]++;
            c.BackendBytes[backendId] += length;
        }
        return Verdict.Transmit;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Verdict Pass()
    {
        Counters.Passed++;
        return Verdict.Pass;
    }

    // Not inlined: drops are the cold side of every branch, and keeping them out keeps the hot path small.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public Verdict Drop(DropReason reason)
    {
        Counters.Drop(reason);
        return Verdict.Drop;
    }

    /// <summary>How long the sweep takes to go once round each table: how late, at most, a tally lets go of a flow
    /// that timed out without being seen again.</summary>
    public const int SweepPeriodMs = 1000;
    private long _sweptAtMs = long.MinValue;

    /// <summary>Between polls, busy or idle: the tables are swept for expired entries in proportion to the time gone
    /// by, so each is gone round once per <see cref="SweepPeriodMs"/> whatever the traffic (about a thousand slots a
    /// millisecond for a 2^20-slot table, read in order). A table that holds nothing is skipped.</summary>
    public void Sweep(long nowMs)
    {
        var elapsed = _sweptAtMs == long.MinValue ? 1 : nowMs - _sweptAtMs;
        if (elapsed <= 0) return;
        _sweptAtMs = nowMs;
        if (Flows.Held > 0) Flows.Sweep(nowMs, SweepBudget(Flows.Capacity, elapsed));
        if (Flows6 is { Held: > 0 } flows6) flows6.Sweep(nowMs, SweepBudget(flows6.Capacity, elapsed));
        if (Sessions.Count > 0) Sessions.Sweep(nowMs, SweepBudget(Sessions.Capacity, elapsed));
        if (Sessions6 is { Count: > 0 } sessions6) sessions6.Sweep(nowMs, SweepBudget(sessions6.Capacity, elapsed));
    }

    // Rounded up, so the rounds of one period together always reach every slot.
    private static int SweepBudget(int capacity, long elapsedMs) => (int)Math.Clamp((capacity * elapsedMs + SweepPeriodMs - 1) / SweepPeriodMs, 1, capacity);
}
