namespace LoadBalancer.Core.Sync;

/// <summary>A bounded single-producer, single-consumer queue of <see cref="SyncRecord"/>s between a worker and the
/// sync threads: no lock, nothing allocated after construction, and a full ring refuses (the producer counts a
/// drop) instead of waiting, so sync never blocks a worker.</summary>
public sealed class SyncRing
{
    private readonly SyncRecord[] _slots;
    private readonly long _mask;
    // Each written by one side only and published with a release store; the other side reads it with acquire.
    private long _head;
    private long _tail;

    public SyncRing(int capacity)
    {
        var size = 1;
        while (size < capacity) size <<= 1;
        _slots = new SyncRecord[size];
        _mask = size - 1;
    }

    public int Capacity => _slots.Length;
    public int Count => (int)(Volatile.Read(ref _head) - Volatile.Read(ref _tail));
    public int Free => Capacity - Count;

    /// <summary>Producer only.</summary>
    public bool TryWrite(in SyncRecord record)
    {
        var head = _head;
        if (head - Volatile.Read(ref _tail) >= _slots.Length) return false;
        _slots[head & _mask] = record;
        Volatile.Write(ref _head, head + 1);
        return true;
    }

    /// <summary>Consumer only.</summary>
    public bool TryRead(out SyncRecord record)
    {
        var tail = _tail;
        if (tail == Volatile.Read(ref _head))
        {
            record = default;
            return false;
        }
        record = _slots[tail & _mask];
        Volatile.Write(ref _tail, tail + 1);
        return true;
    }
}
