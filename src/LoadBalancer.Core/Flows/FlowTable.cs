using System.Runtime.CompilerServices;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Flows;

public enum FlowState : byte
{
    Free = 0,
    /// <summary>Embryonic: a SYN, or a mid-stream packet of a flow we did not know, not yet seen again. It lives
    /// for the SYN timeout and is the first to go when a bucket is full, so a flood of one-packet flows (SYN or
    /// ACK, random sources) only ever displaces other embryonic entries.</summary>
    TcpSyn,
    TcpEstablished,
    TcpClosing,
    Udp,
}

/// <summary>One slot of a <see cref="FlowTable{TKey}"/>: <typeparamref name="TKey"/> is <see cref="FlowKey"/> for
/// IPv4 (40 bytes a slot) or <see cref="FlowKey6"/> for IPv6.</summary>
public struct FlowEntry<TKey> where TKey : struct, IEquatable<TKey>
{
    public TKey Key;
    public uint Hash;
    /// <summary>Stable id of the backend (see <c>BackendSnapshot.Id</c>), not a slot index, so the entry
    /// survives snapshot swaps that reorder backends.</summary>
    public int BackendId;
    public FlowState State;
    public long LastSeenMs;
}

/// <summary>One worker's flow table: fixed capacity, set-associative (8 ways per bucket), so a lookup
/// touches one or two cache lines and nothing is allocated after construction. When a bucket is full an
/// expired entry is reused first, then the embryonic entry (<see cref="FlowState.TcpSyn"/>) idle the longest,
/// and only when the bucket holds none the entry idle the longest (LRU within the bucket): a flood of
/// one-packet flows cannot push out confirmed ones.
/// Every change to an entry's backend or state goes through the table (<see cref="Insert"/>, <see cref="Rebind"/>,
/// <see cref="SetState"/>, the expiry in <see cref="Find"/> and <see cref="Sweep"/>), which keeps the worker's
/// <see cref="FlowTally"/> in step: a caller never writes <see cref="FlowEntry{TKey}.State"/> or
/// <see cref="FlowEntry{TKey}.BackendId"/> itself.
/// Not thread-safe by design: each worker owns its table, and the fanout (<see cref="WorkerFanout"/>) keeps a flow on one worker.
/// Generic over the key so IPv4 and IPv6 flows each get a table of their own slot size, with the same code: the
/// JIT compiles it once per key type, so the IPv4 table pays nothing for IPv6's 128-bit addresses.</summary>
public sealed class FlowTable<TKey> where TKey : struct, IEquatable<TKey>
{
    public const int Ways = SetIndex.Ways;

    private readonly FlowEntry<TKey>[] _entries;
    private readonly SetIndex _sets;
    private readonly FlowTimeouts _timeouts;
    private readonly FlowTally _tally;
    private int _held;
    private int _sweepCursor;

    /// <param name="tally">The worker's per-backend counts, shared by its IPv4 and IPv6 tables and its NAT sessions;
    /// a table of its own when left out (tests).</param>
    public FlowTable(int capacity, FlowTimeouts timeouts, FlowTally? tally = null)
    {
        _sets = new SetIndex(capacity);
        _entries = new FlowEntry<TKey>[_sets.Slots];
        _timeouts = timeouts;
        _tally = tally ?? new FlowTally();
    }

    public int Capacity => _entries.Length;
    public FlowTally Tally => _tally;
    /// <summary>Entries held (not free), expired ones the sweep has not reached included: status's live entries,
    /// read without a walk.</summary>
    public int Held => Volatile.Read(ref _held);
    /// <summary>Live entries pushed out to make room (embryonic or not). Written by the owning worker only;
    /// a status reader sees a recent value.</summary>
    public long Evictions => _evictions;
    public long Inserts { get; private set; }
    private long _evictions;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int BucketStart(uint hash) => _sets.Start(hash);

    public bool IsExpired(in FlowEntry<TKey> entry, long nowMs) =>
        entry.State == FlowState.Free || nowMs - entry.LastSeenMs > _timeouts.For(entry.State);

    /// <summary>Returns the live entry for the key, or a null ref when there is none (or it expired).</summary>
    public ref FlowEntry<TKey> Find(in TKey key, uint hash, long nowMs)
    {
        var start = BucketStart(hash);
        for (var i = start; i < start + Ways; i++)
        {
            ref var e = ref _entries[i];
            if (e.State != FlowState.Free && e.Hash == hash && e.Key.Equals(key))
            {
                if (IsExpired(e, nowMs))
                {
                    Free(ref e);
                    return ref Unsafe.NullRef<FlowEntry<TKey>>();
                }
                return ref e;
            }
        }
        return ref Unsafe.NullRef<FlowEntry<TKey>>();
    }

    /// <summary>Claims a slot for a new flow: a free or expired way, else the embryonic one seen least recently,
    /// else the least recently seen one.</summary>
    public ref FlowEntry<TKey> Insert(in TKey key, uint hash, int backendId, FlowState state, long nowMs)
    {
        var start = BucketStart(hash);
        var victim = -1;
        var oldest = long.MaxValue;
        var embryonic = -1;
        var oldestEmbryonic = long.MaxValue;
        for (var i = start; i < start + Ways; i++)
        {
            ref var e = ref _entries[i];
            if (IsExpired(e, nowMs))
            {
                victim = i;
                embryonic = -1;
                break;
            }
            if (e.LastSeenMs < oldest)
            {
                oldest = e.LastSeenMs;
                victim = i;
            }
            if (e.State == FlowState.TcpSyn && e.LastSeenMs < oldestEmbryonic)
            {
                oldestEmbryonic = e.LastSeenMs;
                embryonic = i;
            }
        }
        if (embryonic >= 0) victim = embryonic;
        ref var slot = ref _entries[victim];
        if (slot.State != FlowState.Free)
        {
            if (!IsExpired(slot, nowMs)) _evictions++;
            Free(ref slot);
        }
        Inserts++;
        slot.Key = key;
        slot.Hash = hash;
        slot.BackendId = backendId;
        slot.State = state;
        slot.LastSeenMs = nowMs;
        _tally.Enter(backendId, state);
        _held++;
        return ref slot;
    }

    /// <summary>A held entry now serves <paramref name="backendId"/> from <paramref name="state"/> (a flow decided
    /// again: its backend left or went down, or a fresh SYN reused a closing flow's 5-tuple).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Rebind(ref FlowEntry<TKey> entry, int backendId, FlowState state)
    {
        _tally.Leave(entry.BackendId, entry.State);
        entry.BackendId = backendId;
        entry.State = state;
        _tally.Enter(backendId, state);
    }

    /// <summary>A held entry's state moves on (its packets' TCP flags).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetState(ref FlowEntry<TKey> entry, FlowState state)
    {
        _tally.Move(entry.BackendId, entry.State, state);
        entry.State = state;
    }

    private void Free(ref FlowEntry<TKey> entry)
    {
        _tally.Leave(entry.BackendId, entry.State);
        entry.State = FlowState.Free;
        _held--;
    }

    /// <summary>Frees the expired entries among the next <paramref name="budget"/> slots (round robin), so the
    /// tally lets go of flows that went silent without anyone looking them up again. Returns how many were freed.</summary>
    public int Sweep(long nowMs, int budget)
    {
        var freed = 0;
        var cursor = _sweepCursor;
        for (var n = 0; n < budget && n < _entries.Length; n++)
        {
            ref var e = ref _entries[cursor];
            cursor = cursor + 1 == _entries.Length ? 0 : cursor + 1;
            if (e.State != FlowState.Free && IsExpired(e, nowMs))
            {
                Free(ref e);
                freed++;
            }
        }
        _sweepCursor = cursor;
        return freed;
    }

    /// <summary>Slot <paramref name="index"/> as it is, live or not: for walks (state sync, <c>lb flows</c>), not for lookups.</summary>
    public ref readonly FlowEntry<TKey> Slot(int index) => ref _entries[index];

    /// <summary>The slot of the live entry for the key, or -1: <see cref="Find"/> without its side effect (an expired
    /// entry is left as it is), so another thread (<c>lb flow</c>) may ask while the owning worker runs. Racy: an
    /// entry may change under it, and the caller reads <see cref="Slot"/> once.</summary>
    public int IndexOf(in TKey key, uint hash, long nowMs)
    {
        var start = BucketStart(hash);
        for (var i = start; i < start + Ways; i++)
            if (_entries[i].Hash == hash && _entries[i].Key.Equals(key) && !IsExpired(_entries[i], nowMs)) return i;
        return -1;
    }

    /// <summary>Takes in a copy of an entry from the HA peer (state sync): inserted when we have none, taken over
    /// when it saw its flow more recently than ours did, ignored when ours is newer or it has already expired.
    /// Returns whether the table changed.</summary>
    public bool Merge(in TKey key, uint hash, int backendId, FlowState state, long lastSeenMs, long nowMs)
    {
        if (state == FlowState.Free || nowMs - lastSeenMs > _timeouts.For(state)) return false;
        ref var e = ref Find(key, hash, nowMs);
        if (Unsafe.IsNullRef(ref e)) e = ref Insert(key, hash, backendId, state, nowMs);
        else if (lastSeenMs < e.LastSeenMs) return false;
        Rebind(ref e, backendId, state);
        e.LastSeenMs = lastSeenMs;
        return true;
    }

    /// <summary>Live entries now. Scans the whole table: for tests and checks of <see cref="Held"/>, not for status or the packet path. Read
    /// from another thread it is approximate (entries change under it), which is fine for a gauge.</summary>
    public int CountLive(long nowMs)
    {
        var n = 0;
        foreach (ref readonly var e in _entries.AsSpan())
            if (!IsExpired(e, nowMs)) n++;
        return n;
    }
}

/// <summary>What every flow table shares whatever its key: the states' names and how TCP flags move them.</summary>
public static class FlowTable
{
    public const int Ways = SetIndex.Ways;

    /// <summary>A state as <c>lb flow</c> and <c>lb flows</c> show it.</summary>
    public static string Name(FlowState state) => state switch
    {
        FlowState.TcpSyn => "syn",
        FlowState.TcpEstablished => "established",
        FlowState.TcpClosing => "closing",
        FlowState.Udp => "udp",
        _ => "free",
    };

    /// <summary>The state a flow starts in from its first packet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowState InitialState(bool isTcp, TcpFlags flags) => isTcp ? NextTcpState(FlowState.Free, flags) : FlowState.Udp;

    /// <summary>The state after another packet of a known flow: TCP follows its flags, UDP stays as it is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowState Advance(FlowState current, bool isTcp, TcpFlags flags) => isTcp ? NextTcpState(current, flags) : current;

    /// <summary>TCP state as seen from the client's side only (DR never sees replies). A flow first met
    /// mid-stream (no SYN) starts embryonic like a SYN and is confirmed by its next packet: one forged ACK is
    /// not worth 900 s of table space.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowState NextTcpState(FlowState current, TcpFlags flags)
    {
        if ((flags & (TcpFlags.Rst | TcpFlags.Fin)) != 0) return FlowState.TcpClosing;
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn) return current == FlowState.TcpEstablished ? current : FlowState.TcpSyn;
        if (current == FlowState.TcpSyn && (flags & TcpFlags.Ack) != 0) return FlowState.TcpEstablished;
        return current == FlowState.Free ? FlowState.TcpSyn : current;
    }
}
