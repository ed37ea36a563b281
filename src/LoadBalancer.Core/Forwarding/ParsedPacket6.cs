using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>One IPv6 frame after the shared parse, as <see cref="ParsedPacket"/> is for IPv4: where its headers are
/// (extension headers already stepped over: <see cref="L4Offset"/> is the upper layer's), its 5-tuple as it arrived
/// (<see cref="Key"/>), its flow hash and the frame's metadata. A type of its own rather than a wider
/// <see cref="ParsedPacket"/>: the IPv4 path would otherwise zero and carry 128-bit addresses on every packet.</summary>
public ref struct ParsedPacket6
{
    public Span<byte> Frame;
    public ref FrameMeta Meta;
    public long NowMs;
    public int IpOffset;
    /// <summary>Offset of the TCP/UDP/ICMPv6 header, after any extension headers.</summary>
    public int L4Offset;
    public int L4HeaderLength;
    /// <summary>Offset of the TCP or UDP checksum field within the L4 header.</summary>
    public int ChecksumOffset;
    /// <summary>End of the datagram (40 + payload length): Ethernet padding after it is not part of it.</summary>
    public int DatagramEnd;
    public TcpFlags TcpFlags;
    public FlowKey6 Key;
    public uint Hash;

    public ParsedPacket6(Span<byte> frame, ref FrameMeta meta, long nowMs)
    {
        Frame = frame;
        Meta = ref meta;
        NowMs = nowMs;
    }

    public readonly bool IsTcp => Key.Protocol == IpProtocols.Tcp;

    /// <summary>A SYN without ACK: the first packet of a new TCP connection.</summary>
    public readonly bool IsNewSyn => IsTcp && (TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;

    /// <summary>The hop the frame came from (its Ethernet source).</summary>
    public readonly MacAddress EthernetSource => MacAddress.Read(Frame[6..]);

    /// <summary>Where the headers are for NAT66's byte-level rewrites (<see cref="PacketHeaders"/> says nothing
    /// IPv4-specific), and whether the L4 checksum is the partial one a GSO frame carries.</summary>
    public readonly PacketHeaders Headers => new(IpOffset, L4Offset, Key.Protocol, Meta.Vnet.IsGso && Meta.Vnet.NeedsChecksum);

    public readonly bool CompleteChecksum() => PartialChecksum.Complete(ref Meta, Frame[..DatagramEnd], L4Offset, ChecksumOffset, !IsTcp);
}
