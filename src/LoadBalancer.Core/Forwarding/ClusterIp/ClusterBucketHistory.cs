namespace LoadBalancer.Core.Forwarding.ClusterIp;

/// <summary>CLUSTERIP, for UDP: per bucket of the cluster table, the last node other than this one that owned
/// it and when that ended. UDP has no SYN to tell a new flow from another node's running one, so a bucket
/// this node owns now is refused to UDP it does not remember while that other node is alive and its flows
/// there may not have timed out yet. Kept per bucket rather than as "the previous table" because tables can
/// change several times within one timeout (health results arrive one at a time), and any of those owners may
/// hold flows. Immutable: each membership change makes a new one off the packet path.</summary>
public sealed class ClusterBucketHistory
{
    private readonly int[] _foreignOwner;
    private readonly long[] _endedAtMs;

    private ClusterBucketHistory(int[] foreignOwner, long[] endedAtMs)
    {
        _foreignOwner = foreignOwner;
        _endedAtMs = endedAtMs;
    }

    public static ClusterBucketHistory Empty(int size)
    {
        var owners = new int[size];
        Array.Fill(owners, -1);
        return new ClusterBucketHistory(owners, new long[size]);
    }

    public int Size => _foreignOwner.Length;

    /// <summary>This history plus the ownership of <paramref name="ended"/>, a table that stops being in force
    /// at <paramref name="nowMs"/>: every bucket it gave to another node records that node.</summary>
    public ClusterBucketHistory After(ClusterTable ended, int localNode, long nowMs)
    {
        var owners = (int[])_foreignOwner.Clone();
        var endedAt = (long[])_endedAtMs.Clone();
        if (ended.Size == owners.Length)
        {
            for (var b = 0; b < owners.Length; b++)
            {
                var owner = ended.OwnerAt(b);
                if (owner < 0 || owner == localNode) continue;
                owners[b] = owner;
                endedAt[b] = nowMs;
            }
        }
        return new ClusterBucketHistory(owners, endedAt);
    }

    /// <summary>Whether the bucket of <paramref name="hash"/> was another node's within the last
    /// <paramref name="windowMs"/> and that node is alive in <paramref name="current"/> (so may still be
    /// serving flows there). Allocation-free, for the packet path.</summary>
    public bool HeldByLiveNode(uint hash, ClusterTable current, long nowMs, long windowMs)
    {
        return _foreignOwner.Length != 0 && HeldAt((int)(hash % (uint)_foreignOwner.Length), current, nowMs, windowMs);
    }

    private bool HeldAt(int bucket, ClusterTable current, long nowMs, long windowMs)
    {
        var owner = _foreignOwner[bucket];
        return owner >= 0 && nowMs - _endedAtMs[bucket] < windowMs && current.IsAlive(owner);
    }

    /// <summary>How many buckets <paramref name="localNode"/> owns in <paramref name="current"/> but refuses to
    /// UDP it does not remember yet (for status: zero once the cluster has settled).</summary>
    public int CountHeld(ClusterTable current, int localNode, long nowMs, long windowMs)
    {
        if (current.Size != _foreignOwner.Length) return 0;
        var held = 0;
        for (var b = 0; b < _foreignOwner.Length; b++)
            if (current.OwnerAt(b) == localNode && HeldAt(b, current, nowMs, windowMs)) held++;
        return held;
    }
}
