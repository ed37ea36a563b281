namespace LoadBalancer.Linux.Packet;

/// <summary>TPACKET_V3 RX ring geometry. Blocks must hold the largest GRO/GSO super-frame whole
/// (64 KiB plus headers), so the default block is 1 MiB; the block timeout bounds how long a lone frame
/// (a SYN) waits in a half-filled block.</summary>
public sealed record RingOptions
{
    public int BlockSize { get; init; } = 1 << 20;
    public int BlockCount { get; init; } = 16;
    public int FrameSize { get; init; } = 2048;
    public int BlockTimeoutMs { get; init; } = 1;
    public bool VnetHeader { get; init; } = true;
    public bool QdiscBypass { get; init; } = true;
    /// <summary>PACKET_FANOUT group (hash mode) when several workers share an interface; null for none.</summary>
    public int? FanoutGroup { get; init; }
}
