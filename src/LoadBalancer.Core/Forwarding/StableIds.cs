namespace LoadBalancer.Core.Forwarding;

/// <summary>Small integer ids below a fixed capacity (the workers' counter arrays), stable for a key across
/// snapshots: a key keeps its id while it is in use and gets the same id back if it returns. An id is reused for a
/// new key only when every id below the capacity has been handed out, and then the one retired longest ago goes
/// first: flows and sessions of a removed service or backend have ended long before that under any ordinary reload
/// history, and a reused id means its new holder's counters continue from its old holder's. Not thread-safe: the
/// snapshot builder serialises its use.</summary>
public sealed class StableIds<TKey>(int capacity) where TKey : notnull
{
    private readonly Dictionary<TKey, int> _ids = new();
    // The build in which each key was last in use: the oldest is the first to give its id away.
    private readonly Dictionary<TKey, long> _lastUsed = new();
    private long _build;

    public int Capacity { get; } = capacity;

    /// <summary>Starts a snapshot: keys taken by <see cref="Take"/> from now on are this snapshot's.</summary>
    public void BeginBuild() => _build++;

    /// <summary>The key's id, marked in use by the current snapshot; <see cref="Capacity"/> when every id is held
    /// by a key of this snapshot (the caller refuses the snapshot).</summary>
    public int Take(TKey key)
    {
        var id = Peek(key);
        if (id < 0) id = Assign(key);
        if (id < Capacity) _lastUsed[key] = _build;
        return id;
    }

    /// <summary>The key's id without assigning one or marking it in use; -1 when it has none.</summary>
    public int Peek(TKey key) => _ids.TryGetValue(key, out var id) ? id : -1;

    private int Assign(TKey key)
    {
        if (_ids.Count < Capacity)
        {
            var fresh = _ids.Count;
            _ids[key] = fresh;
            return fresh;
        }
        TKey? oldest = default;
        var oldestBuild = long.MaxValue;
        foreach (var (k, build) in _lastUsed)
            if (build < _build && build < oldestBuild)
            {
                oldest = k;
                oldestBuild = build;
            }
        if (oldestBuild == long.MaxValue) return Capacity;
        var id = _ids[oldest!];
        _ids.Remove(oldest!);
        _lastUsed.Remove(oldest!);
        _ids[key] = id;
        return id;
    }
}
