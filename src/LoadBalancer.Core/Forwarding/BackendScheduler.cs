using System.Runtime.CompilerServices;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Forwarding;

/// <summary>Where a new flow of a DR or NAT service goes: the service's <c>scheduler:</c> over the backends that take
/// new flows, within their connection limits. Rules:
/// - the candidates are the backends with a table weight (what Maglev's table spans: the usable normal backends, or
///   the backups while none is usable, or everything under <c>when_all_down: use_all</c>), at that weight;
/// - <c>maglev</c> without limits is the table lookup alone, exactly as before schedulers (the first branch, nothing
///   counted); with limits, the flow whose Maglev backend is full goes to the least loaded of the others (wlc's pick);
/// - <c>wlc</c> and <c>wrr</c> pick among the candidates that are not full (<see cref="WeightedLeastConnections"/>,
///   <see cref="WeightedRoundRobin"/> with this worker's credits);
/// - when every candidate is full, the usable backups take the flow (their overflow weight, same scheduler); when
///   they are full too, <c>when_all_down</c> decides: <c>use_all</c> ignores the limits, <c>drop</c> refuses the flow
///   (<see cref="Full"/>, counted <c>backends_full</c>);
/// - counts are every worker's (<see cref="BackendLoad"/>), read without a lock; the pick is O(backends × workers),
///   allocates nothing (the worker's scratch spans) and is only made for a flow the tables do not know.</summary>
public static class BackendScheduler
{
    /// <summary>No backend slot: every backend that could take the flow is at its connection limit.</summary>
    public const int Full = -2;

    /// <summary>The slot of the backend a new flow with <paramref name="hash"/> goes to; -1 when none takes new flows,
    /// <see cref="Full"/> when all that could are full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Pick(ServiceSnapshot service, uint hash, WorkerState worker) =>
        service.Scheduler == SchedulerKind.Maglev && !service.HasLimits
            ? service.Table.Lookup(hash)
            : PickByLoad(service, hash, worker.Load, worker.RoundRobinCredits, worker.Scratch, takeTurn: true);

    /// <summary>What <see cref="Pick"/> would give a new flow on <paramref name="worker"/> now, for another thread
    /// (<c>lb flow</c>): the counts and credits read racily, the worker's credits left as they are (wrr's turn is
    /// not taken), its own <paramref name="scratch"/>.</summary>
    public static int Predict(ServiceSnapshot service, uint hash, WorkerState worker, SchedulerScratch scratch) =>
        service.Scheduler == SchedulerKind.Maglev && !service.HasLimits
            ? service.Table.Lookup(hash)
            : PickByLoad(service, hash, worker.Load, worker.RoundRobinCredits, scratch, takeTurn: false);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int PickByLoad(ServiceSnapshot service, uint hash, BackendLoad load, long[] credits, SchedulerScratch scratch, bool takeTurn)
    {
        if (service.Table.IsEmpty) return -1;
        var backends = service.Backends;
        // Maglev's own backend first: only when it is full are the others counted.
        var slot = service.Scheduler == SchedulerKind.Maglev ? service.Table.Lookup(hash) : -1;
        if (slot >= 0 && backends[slot] is var own && (!own.Limit.IsLimited || !load.Full(own.Id, load.Active(own.Id), own.Limit))) return slot;
        var n = backends.Length;
        var weights = scratch.Weights.AsSpan(0, n);
        var active = scratch.Active.AsSpan(0, n);
        var full = scratch.Full.AsSpan(0, n);
        for (var i = 0; i < n; i++)
        {
            var b = backends[i];
            weights[i] = b.TableWeight;
            if (b.TableWeight == 0 && b.OverflowWeight == 0)
            {
                active[i] = 0;
                full[i] = false;
                continue;
            }
            active[i] = load.Active(b.Id);
            full[i] = b.Limit.IsLimited && load.Full(b.Id, active[i], b.Limit);
        }

        slot = PickAmong(service.Scheduler, weights, active, full, hash, backends, credits, scratch, takeTurn);
        if (slot >= 0) return slot;

        // Every candidate is at its limit: the usable backups (none while the backups are the candidates already).
        for (var i = 0; i < n; i++) weights[i] = backends[i].OverflowWeight;
        slot = PickAmong(service.Scheduler, weights, active, full, hash, backends, credits, scratch, takeTurn);
        if (slot >= 0) return slot;

        if (service.Config.WhenAllDown != AllDownAction.UseAll) return Full;
        if (service.Scheduler == SchedulerKind.Maglev) return service.Table.Lookup(hash);
        for (var i = 0; i < n; i++) weights[i] = backends[i].TableWeight;
        full.Clear();
        return PickAmong(service.Scheduler, weights, active, full, hash, backends, credits, scratch, takeTurn);
    }

    /// <summary>wrr's pick under wrr, wlc's otherwise (Maglev's fallback when its own backend is full).</summary>
    private static int PickAmong(SchedulerKind scheduler, ReadOnlySpan<int> weights, ReadOnlySpan<int> active, ReadOnlySpan<bool> full, uint hash,
        BackendSnapshot[] backends, long[] creditsById, SchedulerScratch scratch, bool takeTurn)
    {
        if (scheduler != SchedulerKind.Wrr) return WeightedLeastConnections.Pick(weights, active, full, hash);
        var credits = scratch.Credits.AsSpan(0, backends.Length);
        for (var i = 0; i < backends.Length; i++) credits[i] = creditsById[backends[i].Id];
        var slot = WeightedRoundRobin.Pick(weights, full, credits);
        if (takeTurn)
            for (var i = 0; i < backends.Length; i++) creditsById[backends[i].Id] = credits[i];
        return slot;
    }
}

/// <summary>A worker's room for one pick of <see cref="BackendScheduler"/>: a slot per backend of the largest
/// service there can be, so no pick allocates. Only its worker uses it.</summary>
public sealed class SchedulerScratch
{
    public readonly int[] Weights = new int[WorkerCounters.MaxBackendIds];
    public readonly int[] Active = new int[WorkerCounters.MaxBackendIds];
    public readonly bool[] Full = new bool[WorkerCounters.MaxBackendIds];
    public readonly long[] Credits = new long[WorkerCounters.MaxBackendIds];
}
