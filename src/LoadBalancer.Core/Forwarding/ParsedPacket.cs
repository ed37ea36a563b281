using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>One IPv4 frame after the shared parse, handed by reference from the <see cref="PacketProcessor"/> to
/// the forwarder bound to its service, the reply path of the interface it arrived on, or the ICMP error path:
/// where its headers are, its 5-tuple as it arrived (<see cref="Key"/>), its flow hash, and the frame's metadata
/// (a ref to the port's, so a verdict's egress interface and checksum state reach the transmitter). The frame
/// is rewritten in place; nothing is copied out of it but the header fields every mode reads.
/// For ICMP, <see cref="Key"/> has ports 0 and <see cref="Hash"/> is not computed.</summary>
public ref struct ParsedPacket
{
    public Span<byte> Frame;
    public ref FrameMeta Meta;
    /// <summary>The worker's clock when the batch was taken, in milliseconds.</summary>
    public long NowMs;
    public int IpOffset;
    public int IpHeaderLength;
    /// <summary>Offset of the TCP/UDP/ICMP header.</summary>
    public int L4Offset;
    public int L4HeaderLength;
    /// <summary>Offset of the TCP or UDP checksum field within the L4 header.</summary>
    public int ChecksumOffset;
    /// <summary>End of the datagram (IPv4 total length): Ethernet padding after it is not part of it.</summary>
    public int DatagramEnd;
    public bool DontFragment;
    public TcpFlags TcpFlags;
    public FlowKey Key;
    public uint Hash;

    public ParsedPacket(Span<byte> frame, ref FrameMeta meta, long nowMs)
    {
        Frame = frame;
        Meta = ref meta;
        NowMs = nowMs;
    }

    public readonly byte Protocol => Key.Protocol;
    public readonly bool IsTcp => Key.Protocol == IpProtocols.Tcp;

    /// <summary>A SYN without ACK: the first packet of a new TCP connection.</summary>
    public readonly bool IsNewSyn => IsTcp && (TcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;

    public readonly int TotalLength => DatagramEnd - IpOffset;

    /// <summary>Computed on demand (a pass over the header): only the modes that update it incrementally ask.</summary>
    public readonly bool HeaderChecksumValid => Checksum.Compute(Frame.Slice(IpOffset, IpHeaderLength)) == 0;

    /// <summary>The hop the frame came from (its Ethernet source).</summary>
    public readonly MacAddress EthernetSource => MacAddress.Read(Frame[6..]);

    /// <summary>Where the headers are for the byte-level rewrites, and whether the L4 checksum is the partial
    /// one a GSO frame carries (only address changes go into it).</summary>
    public readonly PacketHeaders Headers
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(IpOffset, L4Offset, Key.Protocol, Meta.Vnet.IsGso && Meta.Vnet.NeedsChecksum);
    }

    /// <summary>Completes a checksum the sender left partial (TP_STATUS_CSUMNOTREADY, or NEEDS_CSUM in the
    /// virtio-net header), unless the frame leaves as GSO: then the kernel completes it per segment from the
    /// header we keep. False when the header's checksum offsets point outside the datagram.</summary>
    public readonly bool CompleteChecksum() => PartialChecksum.Complete(ref Meta, Frame[..DatagramEnd], L4Offset, ChecksumOffset, !IsTcp);
}

/// <summary>Completing the TCP/UDP checksum a local sender left partial, for either family: the kernel seeded the
/// field with the pseudo-header's sum, so what is left is the same sum over the segment whatever the IP version.</summary>
public static class PartialChecksum
{
    /// <summary>Whether an untagged TCP or UDP frame's checksum field holds the folded sum of its pseudo-header, as a
    /// local sender's CHECKSUM_PARTIAL leaves it: for a port that is not told (AF_XDP), a read of the headers only.
    /// A complete checksum that happens to equal that sum (1 in 65,536) is harmless: completing it sums the same
    /// words, the field included, and writes back the same value. IPv4 fragments and IPv6 extension headers: no.</summary>
    public static bool LooksPartial(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetFrame.HeaderLength + 20) return false;
        var type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        int l4, length;
        byte protocol;
        uint pseudo;
        if (type == EtherTypes.Ipv4)
        {
            var ip = frame[EthernetFrame.HeaderLength..];
            var ihl = (ip[0] & 0x0F) * 4;
            var total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            // A fragment's checksum covers the whole datagram: no sender leaves one partial.
            if ((ip[0] >> 4) != 4 || ihl < 20 || total > ip.Length || total < ihl + 8 || (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0) return false;
            protocol = ip[9];
            l4 = EthernetFrame.HeaderLength + ihl;
            length = total - ihl;
            pseudo = Checksum.PseudoHeaderSum(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]), protocol, length);
        }
        else if (type == EtherTypes.Ipv6)
        {
            if (frame.Length < EthernetFrame.HeaderLength + 48) return false;
            var ip = frame[EthernetFrame.HeaderLength..];
            protocol = ip[6];
            length = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            l4 = EthernetFrame.HeaderLength + 40;
            if (length < 8 || 40 + length > ip.Length) return false;
            pseudo = Checksum.PseudoHeaderSum(BinaryPrimitives.ReadUInt128BigEndian(ip[8..]), BinaryPrimitives.ReadUInt128BigEndian(ip[24..]), protocol, length);
        }
        else return false;
        int field;
        if (protocol == 6 && length >= 20) field = l4 + 16;
        else if (protocol == 17) field = l4 + 6;
        else return false;
        var value = BinaryPrimitives.ReadUInt16BigEndian(frame[field..]);
        // UDP's 0 is "no checksum", never a partial one.
        return value != 0 && value == Checksum.Fold(pseudo);
    }

    /// <summary>Completes a checksum the sender left partial (TP_STATUS_CSUMNOTREADY, or NEEDS_CSUM in the
    /// virtio-net header), unless the frame leaves as GSO: then the kernel completes it per segment from the
    /// header we keep. False when the header's checksum offsets point outside the datagram.</summary>
    public static bool Complete(ref FrameMeta meta, Span<byte> datagram, int l4Offset, int checksumOffset, bool isUdp)
    {
        if (!(meta.ChecksumNotReady || meta.Vnet.NeedsChecksum) || meta.Vnet.IsGso) return true;
        int start, offset;
        if (meta.Vnet.NeedsChecksum)
        {
            start = meta.Vnet.ChecksumStart;
            offset = meta.Vnet.ChecksumOffset;
        }
        else
        {
            start = l4Offset;
            offset = checksumOffset;
        }
        if (!Checksum.CompletePartial(datagram, start, offset, isUdp)) return false;
        meta.Vnet.Flags &= unchecked((byte)~VnetHeader.FlagNeedsChecksum);
        meta.ChecksumNotReady = false;
        return true;
    }
}

/// <summary>Where the headers of a parsed TCP/UDP frame are (IPv4, or IPv6 with <see cref="L4Offset"/> past any
/// extension headers), and whether its L4 checksum is partial.</summary>
public readonly record struct PacketHeaders(int IpOffset, int L4Offset, byte Protocol, bool PartialChecksum);
