namespace LoadBalancer.Core.Sync;

/// <summary>What every worker of an engine reads before it offers anything to the peer: whether this engine sends
/// (only while it is master; both sides are, during a split brain or a failback) and whether the peer asked for
/// everything (a peer that (re)started gets a full dump). Written by the control plane, read lock-free.</summary>
public sealed class SyncSwitch
{
    private volatile bool _sending;
    private int _dumps;

    public bool Sending
    {
        get => _sending;
        set => _sending = value;
    }

    /// <summary>Bumped for each dump asked; a worker that sees it change walks its whole tables once.</summary>
    public int DumpRequests => Volatile.Read(ref _dumps);

    public void RequestDump() => Interlocked.Increment(ref _dumps);
}
