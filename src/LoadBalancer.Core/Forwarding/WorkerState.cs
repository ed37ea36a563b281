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

    /// <summary>Adds this worker's live flow-table entries and NAT sessions to <paramref name="perBackendId"/>, by
    /// backend id. A walk of both tables for the control plane (a reload's leaving backends), never the packet path;
    /// read from another thread it is approximate, as entries change under it, which a count that only has to
    /// reach zero can afford. Returns the live flow-table entries (what <see cref="FlowTable.CountLive"/> counts), so
    /// status walks the table once for both.
    /// With <paramref name="yieldToWorkers"/> the walk gives up the CPU every <see cref="WalkSlice"/> slots: a 2^20-slot
    /// table takes milliseconds, and where the caller shares a core with a worker (a scrape every second, the lab pinning
    /// the whole engine to one core) one unbroken walk holds the worker off for all of it. Only for callers that hold no
    /// lock: on a busy core each yield can cost a time slice. The live entries of the IPv6 flow table are apart in
    /// <paramref name="live6"/> (0 without one).</summary>
    public int CountLiveFlows(long nowMs, long[] perBackendId, out int live6, bool yieldToWorkers = false)
    {
        var live = CountLive(Flows, nowMs, perBackendId, yieldToWorkers);
        live6 = Flows6 is { } flows6 ? CountLive(flows6, nowMs, perBackendId, yieldToWorkers) : 0;
        CountSessions(Sessions, nowMs, perBackendId, yieldToWorkers);
        if (Sessions6 is { } sessions6) CountSessions(sessions6, nowMs, perBackendId, yieldToWorkers);
        return live;
    }

    private static void CountSessions<TKey>(NatSessionTable<TKey> sessions, long nowMs, long[] perBackendId, bool yieldToWorkers) where TKey : struct, IEquatable<TKey>
    {
        for (var i = 0; i < sessions.Capacity; i++)
        {
            if (yieldToWorkers && (i & (WalkSlice - 1)) == WalkSlice - 1) Thread.Yield();
            ref readonly var s = ref sessions.Slot(i);
            if (s.InUse && !NatSessionTable.Expired(s, nowMs) && (uint)s.BackendId < (uint)perBackendId.Length) perBackendId[s.BackendId]++;
        }
    }

    private static int CountLive<TKey>(FlowTable<TKey> flows, long nowMs, long[] perBackendId, bool yieldToWorkers) where TKey : struct, IEquatable<TKey>
    {
        var live = 0;
        for (var i = 0; i < flows.Capacity; i++)
        {
            if (yieldToWorkers && (i & (WalkSlice - 1)) == WalkSlice - 1) Thread.Yield();
            ref readonly var e = ref flows.Slot(i);
            if (flows.IsExpired(e, nowMs)) continue;
            live++;
            if ((uint)e.BackendId < (uint)perBackendId.Length) perBackendId[e.BackendId]++;
        }
        return live;
    }

    /// <summary>Slots a control-plane walk reads between two yields (about 0.1 ms here).</summary>
    public const int WalkSlice = 16384;

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

    /// <summary>Housekeeping after a batch: a few expired NAT sessions leave, so sessions whose flows went
    /// silent free their slots. An engine without NAT sessions skips it: the sweep would walk cold slots for nothing.</summary>
    public void EndOfBatch(long nowMs)
    {
        if (Sessions.Count > 0) Sessions.Sweep(nowMs, 64);
        if (Sessions6 is { Count: > 0 } sessions6) sessions6.Sweep(nowMs, 64);
    }
}
