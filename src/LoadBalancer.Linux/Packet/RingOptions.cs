using LoadBalancer.Core.IO;

namespace LoadBalancer.Linux.Packet;

/// <summary>TPACKET_V3 RX ring geometry. A block must hold the largest GRO/GSO super-frame whole
/// (64 KiB plus headers), so blocks are 256 KiB. The block timeout (1 ms) bounds how long a lone frame
/// (a SYN) waits in a half-filled block, but it also means that at moderate rates every block retires
/// after ~1 ms nearly empty: the ring then buffers (block count) milliseconds, not (size) bytes.
/// 256 blocks ride out a 250 ms stall (GC, scheduling, tier-up) without loss.</summary>
public sealed record RingOptions
{
    public int BlockSize { get; init; } = 1 << 18;
    public int BlockCount { get; init; } = 256;
    public int FrameSize { get; init; } = 2048;
    public int BlockTimeoutMs { get; init; } = 1;
    public bool VnetHeader { get; init; } = true;
    public bool QdiscBypass { get; init; } = true;
    /// <summary>PACKET_FANOUT group when several workers share an interface; null for none.</summary>
    public int? FanoutGroup { get; init; }
    /// <summary>How the group picks a worker (see <c>ClientFanout</c>).</summary>
    public FanoutKey FanoutKey { get; init; } = FanoutKey.ClientIsSource;
}
