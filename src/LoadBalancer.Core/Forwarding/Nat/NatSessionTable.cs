using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>One NAT translation: the flow as the client sent it and as the backend answers it.
/// <typeparamref name="TKey"/> is <see cref="FlowKey"/> for IPv4 (the layout the IPv4 table always had) or
/// <see cref="FlowKey6"/> for NAT66.</summary>
public struct NatSession<TKey> where TKey : struct, IEquatable<TKey>
{
    /// <summary>client → VIP:port, as the client sends it.</summary>
    public TKey Forward;
    /// <summary>backend:port → client, as the backend answers.</summary>
    public TKey Reverse;
    public uint ForwardHash;
    public uint ReverseHash;
    public int BackendId;
    public int ServiceId;
    /// <summary>Source MAC of the client's frames: the router in front of the clients, or the client
    /// itself. Replies go back to it, so no ARP is needed per client.</summary>
    public MacAddress ClientHop;
    public FlowState State;
    public long LastSeenMs;
    public FlowTimeouts Timeouts;
    public bool InUse;
    /// <summary>A reply came back through it. A UDP session never answered is embryonic: the first to go when
    /// the table is full.</summary>
    public bool Replied;

    /// <summary>Not (yet) a conversation: a TCP session whose client has not acknowledged the handshake (or a
    /// picked-up one not seen again), a UDP flow never answered. What a flood from random sources creates.</summary>
    public readonly bool IsEmbryonic => State == FlowState.TcpSyn || (State == FlowState.Udp && !Replied);
}

/// <summary>A worker's NAT sessions: fixed capacity, found from either direction in one set-associative
/// bucket each (8 ways), nothing allocated after construction. When a bucket or the slot pool runs out, an
/// expired session is reclaimed first, then an embryonic one is evicted (<see cref="NatSession{TKey}.IsEmbryonic"/>:
/// what a SYN or UDP flood from random sources fills the table with); an established session is never
/// evicted: with none embryonic to take, the new flow is refused (the caller counts <c>session_table_full</c>).
/// The search for a slot is bounded (<see cref="ReclaimBudget"/> slots) and, after a search found nothing, not
/// repeated for <see cref="ReclaimBackoffMs"/>, so a table full of real sessions costs a refused flood almost
/// nothing per packet. Expired sessions also leave a few at a time by <see cref="Sweep"/>.
/// Single-threaded by design: both directions of a flow are handled by the worker that owns the table.
/// Generic over the key as <see cref="FlowTable{TKey}"/> is: the JIT compiles it once per key type (both are
/// structs), so the IPv4 table keeps its slot layout and speed and IPv6 sessions (NAT66) get a table of their own,
/// allocated only where an IPv6 NAT service is served.</summary>
public sealed class NatSessionTable<TKey> where TKey : struct, IEquatable<TKey>
{
    public const int Ways = SetIndex.Ways;
    private const int Empty = -1;

    private readonly NatSession<TKey>[] _sessions;
    private readonly int[] _free;
    private int _freeCount;
    private readonly int[] _forward;
    private readonly int[] _reverse;
    private readonly SetIndex _sets;
    private readonly WorkerCounters _counters;
    private int _sweepCursor;
    private long _noVictimUntilMs = long.MinValue;
    private long _evictions;

    /// <summary>Slots looked at, at most, to find room when the pool is empty.</summary>
    public const int ReclaimBudget = 64;
    /// <summary>After a search that found no room, how long new flows are refused without searching again.</summary>
    public const long ReclaimBackoffMs = 10;

    public NatSessionTable(int capacity, WorkerCounters counters)
    {
        if (capacity < Ways) capacity = Ways;
        _sessions = new NatSession<TKey>[capacity];
        _free = new int[capacity];
        for (var i = 0; i < capacity; i++) _free[i] = capacity - 1 - i;
        _freeCount = capacity;
        // Twice as many bucket slots as sessions keeps buckets from filling before the pool does.
        _sets = new SetIndex(capacity * 2);
        _forward = new int[_sets.Slots];
        _reverse = new int[_sets.Slots];
        Array.Fill(_forward, Empty);
        Array.Fill(_reverse, Empty);
        _counters = counters;
    }

    public int Capacity => _sessions.Length;
    public int Count => _sessions.Length - _freeCount;
    /// <summary>Embryonic sessions evicted to make room for new flows.</summary>
    public long Evictions => _evictions;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int BucketStart(uint hash) => _sets.Start(hash);

    public static bool Expired(in NatSession<TKey> s, long nowMs) => NatSessionTable.Expired(s, nowMs);

    public ref NatSession<TKey> FindForward(scoped in TKey key, uint hash, long nowMs) => ref Find(_forward, key, hash, nowMs, reverse: false);

    public ref NatSession<TKey> FindReverse(scoped in TKey key, uint hash, long nowMs) => ref Find(_reverse, key, hash, nowMs, reverse: true);

    private ref NatSession<TKey> Find(int[] index, scoped in TKey key, uint hash, long nowMs, bool reverse)
    {
        var start = BucketStart(hash);
        for (var i = start; i < start + Ways; i++)
        {
            var slot = index[i];
            if (slot == Empty) continue;
            ref var s = ref _sessions[slot];
            if (reverse ? s.ReverseHash != hash || !s.Reverse.Equals(key) : s.ForwardHash != hash || !s.Forward.Equals(key)) continue;
            if (Expired(s, nowMs))
            {
                Remove(slot);
                return ref Unsafe.NullRef<NatSession<TKey>>();
            }
            return ref s;
        }
        return ref Unsafe.NullRef<NatSession<TKey>>();
    }

    /// <summary>A new session filled from <paramref name="template"/> (its keys, hashes, service, backend, client hop,
    /// state, timeouts and last-seen time), or a null ref when the table (or one of its two buckets) is full of
    /// live sessions.</summary>
    public ref NatSession<TKey> Create(scoped in NatSession<TKey> template, long nowMs)
    {
        var f = FreeWay(_forward, template.ForwardHash, nowMs);
        var r = FreeWay(_reverse, template.ReverseHash, nowMs);
        if (f < 0) f = EvictIn(_forward, template.ForwardHash);
        if (f >= 0 && r < 0) r = EvictIn(_reverse, template.ReverseHash);
        if (f < 0 || r < 0) return ref Unsafe.NullRef<NatSession<TKey>>();
        if (_freeCount == 0 && !Reclaim(nowMs)) return ref Unsafe.NullRef<NatSession<TKey>>();

        var slot = _free[--_freeCount];
        ref var s = ref _sessions[slot];
        s = template;
        s.InUse = true;
        _forward[f] = slot;
        _reverse[r] = slot;
        _counters.ServiceSessions[s.ServiceId]++;
        _counters.BackendSessions[s.BackendId]++;
        _counters.Tally.Enter(s.BackendId, s.State);
        return ref s;
    }

    /// <summary>An empty way in the hash's bucket, reclaiming an expired session there if need be; -1 if none.</summary>
    private int FreeWay(int[] index, uint hash, long nowMs)
    {
        var start = BucketStart(hash);
        for (var i = start; i < start + Ways; i++)
            if (index[i] == Empty) return i;
        for (var i = start; i < start + Ways; i++)
        {
            var slot = index[i];
            if (slot != Empty && Expired(_sessions[slot], nowMs))
            {
                Remove(slot);
                return i;
            }
        }
        return -1;
    }

    /// <summary>Frees the way of the embryonic session seen least recently in a full bucket; -1 if it holds none.</summary>
    private int EvictIn(int[] index, uint hash)
    {
        var start = BucketStart(hash);
        var victim = -1;
        var oldest = long.MaxValue;
        for (var i = start; i < start + Ways; i++)
        {
            ref var s = ref _sessions[index[i]];
            if (s.IsEmbryonic && s.LastSeenMs < oldest)
            {
                oldest = s.LastSeenMs;
                victim = i;
            }
        }
        if (victim < 0) return -1;
        Remove(index[victim]);
        _evictions++;
        return victim;
    }

    /// <summary>Room in an empty pool: the next expired or embryonic session from the round-robin cursor, within
    /// the budget. The cursor moves on from where it took one, so the slot just refilled is the last to be met
    /// again: an embryonic session gets about a full turn of the table to complete its handshake.</summary>
    private bool Reclaim(long nowMs)
    {
        if (nowMs < _noVictimUntilMs) return false;
        for (var n = 0; n < ReclaimBudget && n < _sessions.Length; n++)
        {
            var slot = _sweepCursor;
            _sweepCursor = _sweepCursor + 1 == _sessions.Length ? 0 : _sweepCursor + 1;
            ref var s = ref _sessions[slot];
            if (!s.InUse) continue;
            if (Expired(s, nowMs))
            {
                Remove(slot);
                return true;
            }
            if (s.IsEmbryonic)
            {
                Remove(slot);
                _evictions++;
                return true;
            }
        }
        _noVictimUntilMs = nowMs + ReclaimBackoffMs;
        return false;
    }

    /// <summary>Slot <paramref name="index"/> as it is, in use or not: for walks (state sync, <c>lb flows</c>), not for lookups.</summary>
    public ref readonly NatSession<TKey> Slot(int index) => ref _sessions[index];

    /// <summary>The slot of the live session for the client's key, or -1: <see cref="FindForward"/> without its side
    /// effect (an expired session stays until the worker meets it), so another thread (<c>lb flow</c>) may ask while the
    /// owning worker runs. Racy: a session may change under it, and the caller reads <see cref="Slot"/> once.</summary>
    public int IndexOfForward(in TKey key, uint hash, long nowMs)
    {
        var start = BucketStart(hash);
        for (var i = start; i < start + Ways; i++)
        {
            var slot = _forward[i];
            if (slot != Empty && _sessions[slot].InUse && _sessions[slot].Forward.Equals(key) && !Expired(_sessions[slot], nowMs)) return slot;
        }
        return -1;
    }

    /// <summary>Takes in a copy of a session from the HA peer (state sync): created when we have none, taken over
    /// when it saw its flow more recently than ours did (replacing ours if the peer's went to another backend),
    /// ignored when ours is newer, when it has expired, or when the table is full. Returns whether the table changed.</summary>
    public bool Merge(scoped in NatSession<TKey> copy, long nowMs)
    {
        if (Expired(copy, nowMs)) return false;
        ref var s = ref FindForward(copy.Forward, copy.ForwardHash, nowMs);
        if (!Unsafe.IsNullRef(ref s))
        {
            if (copy.LastSeenMs < s.LastSeenMs) return false;
            if (s.BackendId == copy.BackendId && s.Reverse.Equals(copy.Reverse))
            {
                SetState(ref s, copy.State);
                s.LastSeenMs = copy.LastSeenMs;
                s.ClientHop = copy.ClientHop;
                return true;
            }
            Remove(ref s);
        }
        ref var created = ref Create(copy, nowMs);
        if (Unsafe.IsNullRef(ref created)) return false;
        // The peer does not say whether a UDP flow was answered; a flow it thought worth keeping is not
        // ours to evict first.
        created.Replied = true;
        return true;
    }

    /// <summary>Ends a session (closed by policy, e.g. its backend died).</summary>
    public void Remove(ref NatSession<TKey> session)
    {
        var slot = (int)(Unsafe.ByteOffset(ref _sessions[0], ref session) / Unsafe.SizeOf<NatSession<TKey>>());
        Remove(slot);
    }

    private void Remove(int slot)
    {
        ref var s = ref _sessions[slot];
        if (!s.InUse) return;
        Unlink(_forward, s.ForwardHash, slot);
        Unlink(_reverse, s.ReverseHash, slot);
        s.InUse = false;
        _free[_freeCount++] = slot;
        _counters.ServiceSessions[s.ServiceId]--;
        _counters.BackendSessions[s.BackendId]--;
        _counters.Tally.Leave(s.BackendId, s.State);
    }

    /// <summary>A session's state moves on; the worker's <see cref="FlowTally"/> follows (closing is not active).
    /// Every state change of a session goes through here.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetState(ref NatSession<TKey> session, FlowState state)
    {
        _counters.Tally.Move(session.BackendId, session.State, state);
        session.State = state;
    }

    private void Unlink(int[] index, uint hash, int slot)
    {
        var start = BucketStart(hash);
        for (var i = start; i < start + Ways; i++)
            if (index[i] == slot)
            {
                index[i] = Empty;
                return;
            }
    }

    /// <summary>Frees expired sessions among the next <paramref name="budget"/> slots (round robin), so
    /// sessions whose flows never send again still leave the table. Returns how many were freed.</summary>
    public int Sweep(long nowMs, int budget)
    {
        var freed = 0;
        for (var n = 0; n < budget && n < _sessions.Length; n++)
        {
            var slot = _sweepCursor;
            _sweepCursor = _sweepCursor + 1 == _sessions.Length ? 0 : _sweepCursor + 1;
            if (_sessions[slot].InUse && Expired(_sessions[slot], nowMs))
            {
                Remove(slot);
                freed++;
            }
        }
        return freed;
    }
}

/// <summary>What both families' session tables share that needs no table.</summary>
public static class NatSessionTable
{
    public static bool Expired<TKey>(in NatSession<TKey> s, long nowMs) where TKey : struct, IEquatable<TKey> =>
        nowMs - s.LastSeenMs > s.Timeouts.For(s.State);
}
