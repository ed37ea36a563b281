using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>One worker's counters. Single writer (its worker thread), read by the status thread.
/// 64-bit loads and stores are atomic on the platforms we run on, so a reader sees a recent value,
/// never a torn one; no Interlocked on the packet path because nobody else writes these.</summary>
public sealed class WorkerCounters
{
    public const int MaxServices = 256;
    public const int MaxBackendIds = 4096;

    public long RxFrames;
    public long TxFrames;
    public long Passed;
    public readonly long[] Drops = new long[(int)DropReason.Count];
    public readonly long[] ServicePackets = new long[MaxServices];
    public readonly long[] ServiceBytes = new long[MaxServices];
    public readonly long[] ServiceFlows = new long[MaxServices];
    public readonly long[] BackendPackets = new long[MaxBackendIds];
    public readonly long[] BackendBytes = new long[MaxBackendIds];
    public readonly long[] BackendFlows = new long[MaxBackendIds];

    public void Drop(DropReason reason) => Drops[(int)reason]++;
}
