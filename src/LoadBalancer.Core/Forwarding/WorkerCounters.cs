using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>One worker's counters. Single writer (its worker thread), read by the status thread.
/// 64-bit loads and stores are atomic on the platforms we run on, so a reader sees a recent value,
/// never a torn one; no Interlocked on the packet path because nobody else writes these.</summary>
public sealed class WorkerCounters
{
    public const int MaxServices = 256;
    public const int MaxBackendIds = Flows.FlowTally.MaxBackendIds;

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
    /// <summary>Live NAT sessions (a gauge: +1 on create, -1 on removal).</summary>
    public readonly long[] ServiceSessions = new long[MaxServices];
    public readonly long[] BackendSessions = new long[MaxBackendIds];
    /// <summary>What this worker's flow tables and NAT sessions hold per backend, and how much of it is closing:
    /// the tables keep it (<see cref="Flows.FlowTally"/>).</summary>
    public readonly Flows.FlowTally Tally = new();
    /// <summary>Frames on a NAT backend interface from a backend port that belong to no session (left to the kernel).</summary>
    public long NatRepliesWithoutSession;
    /// <summary>Frames for us whose VLAN tag the NIC stripped into metadata, left to the kernel (see <see cref="IO.FrameMeta.VlanStripped"/>).</summary>
    public long VlanStrippedPassed;
    /// <summary>ICMP errors the engine built itself (fragmentation needed).</summary>
    public long IcmpSent;
    /// <summary>ICMP errors not built because their destination had one too recently (<see cref="IcmpRateLimit"/>).</summary>
    public long IcmpRateLimited;

    public void Drop(DropReason reason) => Drops[(int)reason]++;
}
