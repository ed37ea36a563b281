using System.Runtime.CompilerServices;

namespace LoadBalancer.Core.Flows;

/// <summary>How many flows one worker's tables hold per backend id, and how many of those are closing: kept as the
/// entries change (a flow or session created, re-bound, moved to another state, expired, evicted or removed), so
/// that a count costs a read instead of a walk of the tables. A scheduler reads it for every new flow (wlc,
/// connection limits) and status for every scrape.
/// Held entries include the ones that expired and were not yet met again: the worker's sweep
/// (<see cref="FlowTable{TKey}.Sweep"/>, <c>NatSessionTable.Sweep</c>) frees those within about a second, so a
/// count lags an idle timeout by that much at most, and never a FIN or RST (closing is counted as it is seen).
/// Single writer (the owning worker); others read it racily, a 32-bit read being atomic.</summary>
public sealed class FlowTally
{
    /// <summary>The backend ids a tally has room for; the snapshot builder never gives out more.</summary>
    public const int MaxBackendIds = 4096;

    private readonly int[] _held = new int[MaxBackendIds];
    private readonly int[] _closing = new int[MaxBackendIds];

    /// <summary>Entries or sessions held for the backend, in any state.</summary>
    public int Held(int backendId) => (uint)backendId < MaxBackendIds ? Volatile.Read(ref _held[backendId]) : 0;

    /// <summary>What a scheduler counts as the backend's load: held and not closing (SYN, established, UDP).</summary>
    public int Active(int backendId)
    {
        if ((uint)backendId >= MaxBackendIds) return 0;
        var active = Volatile.Read(ref _held[backendId]) - Volatile.Read(ref _closing[backendId]);
        return active < 0 ? 0 : active; // two racy reads may straddle a close
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Enter(int backendId, FlowState state)
    {
        if ((uint)backendId >= MaxBackendIds) return;
        _held[backendId]++;
        if (state == FlowState.TcpClosing) _closing[backendId]++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Leave(int backendId, FlowState state)
    {
        if ((uint)backendId >= MaxBackendIds) return;
        _held[backendId]--;
        if (state == FlowState.TcpClosing) _closing[backendId]--;
    }

    /// <summary>An entry of <paramref name="backendId"/> went from <paramref name="from"/> to <paramref name="to"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Move(int backendId, FlowState from, FlowState to)
    {
        if (from == to || (uint)backendId >= MaxBackendIds) return;
        if (from == FlowState.TcpClosing) _closing[backendId]--;
        else if (to == FlowState.TcpClosing) _closing[backendId]++;
    }
}
