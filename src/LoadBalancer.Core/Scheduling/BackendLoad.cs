using LoadBalancer.Core.Flows;

namespace LoadBalancer.Core.Scheduling;

/// <summary>Every worker's <see cref="FlowTally"/> of one engine, summed per backend: the active flows a scheduler
/// (wlc, connection limits) and status read, and each backend's <see cref="ConnectionLimitState"/>.
/// Per-worker counts summed racily, not per-worker decisions: a new flow on one worker sees the flows the others
/// hold, so 10 downloads on one backend steer the next flows away whichever worker they land on. It costs a read
/// of each worker's count per candidate backend (O(backends × workers) for a new flow, nothing for a known one), and
/// a count may be a flow or two behind another worker's newest; no lock, no interlocked operation.
/// The fullness state is shared too: any worker (or status) that looks at a backend brings it up to date from the
/// summed count, so all agree; two that do so at once write the same value.</summary>
public sealed class BackendLoad
{
    private FlowTally[] _tallies;
    private readonly ConnectionLimitState[] _limits = new ConnectionLimitState[FlowTally.MaxBackendIds];

    public BackendLoad(params FlowTally[] tallies) => _tallies = tallies;

    /// <summary>Adds a worker's tally; while the engine is built, before any worker runs.</summary>
    public void Add(FlowTally tally) => _tallies = [.. _tallies, tally];

    public IReadOnlyList<FlowTally> Tallies => _tallies;

    /// <summary>Flows held for the backend by every worker, closing ones included (status's <c>active_flows</c>).</summary>
    public int Held(int backendId)
    {
        var n = 0;
        foreach (var t in _tallies) n += t.Held(backendId);
        return n;
    }

    /// <summary>Flows of the backend that are not closing, over every worker (status's <c>active</c>, wlc's count).</summary>
    public int Active(int backendId)
    {
        var n = 0;
        foreach (var t in _tallies) n += t.Active(backendId);
        return n;
    }

    /// <summary>Whether the backend is full under <paramref name="limit"/>, given its active count now; the state moves
    /// at the thresholds only (full at max, not full strictly below min).</summary>
    public bool Full(int backendId, int active, in ConnectionLimit limit) =>
        (uint)backendId < (uint)_limits.Length && _limits[backendId].Update(active, limit);
}
