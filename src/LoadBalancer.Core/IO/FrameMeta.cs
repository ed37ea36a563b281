namespace LoadBalancer.Core.IO;

/// <summary>The kernel's virtio_net_hdr as it travels with a frame: segmentation and checksum offload
/// state. A GRO/GSO super-frame arrives with GsoType set and leaves with the same header, so the kernel
/// segments it on the way out instead of us refusing a frame larger than the MTU.</summary>
public struct VnetHeader
{
    public const byte FlagNeedsChecksum = 1;
    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoEcn = 0x80;
    public const int Size = 10;

    public byte Flags;
    public byte GsoType;
    public ushort HeaderLength;
    public ushort GsoSize;
    public ushort ChecksumStart;
    public ushort ChecksumOffset;

    public readonly bool NeedsChecksum => (Flags & FlagNeedsChecksum) != 0;
    public readonly bool IsGso => (GsoType & ~GsoEcn) != GsoNone;
}

/// <summary>How the frame reached us (sll_pkttype). The order is the kernel's, and the processor relies on it:
/// everything from <see cref="OtherHost"/> on is not for this host.</summary>
public enum PacketType : byte
{
    Host = 0,
    Broadcast = 1,
    Multicast = 2,
    OtherHost = 3,
    Outgoing = 4,
}

/// <summary>Per-frame facts from the frame port, and the forwarding decision's egress interface. Interfaces
/// are named by their index in the engine's <c>InterfacePlan</c> (not the kernel's ifindex).</summary>
public struct FrameMeta
{
    public int IngressInterface;
    public int EgressInterface;
    public PacketType PacketType;
    /// <summary>The frame is shorter than on the wire (ring slot too small); it must not be forwarded.</summary>
    public bool Truncated;
    /// <summary>TP_STATUS_CSUMNOTREADY: the L4 checksum is partial and must be completed before it leaves
    /// (unless the frame leaves as GSO with <see cref="VnetHeader.FlagNeedsChecksum"/>).</summary>
    public bool ChecksumNotReady;
    /// <summary>The NIC stripped the frame's VLAN tag into metadata (TP_STATUS_VLAN_VALID): the frame as we see it
    /// has no tag, and forwarding it would send it on the wrong VLAN.</summary>
    public bool VlanStripped;
    public VnetHeader Vnet;
    /// <summary>When set, only this many bytes from the start of the frame are sent: the processor
    /// built a shorter frame (an ICMP error) in the received frame's buffer.</summary>
    public int TransmitLength;
}
