using System.Buffers.Binary;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>Where the IPv4 headers of a frame are, read by <see cref="ReferenceDecoder"/>.</summary>
internal readonly record struct Ipv4Layout(int L3, int HeaderLength, int TotalLength, byte Protocol, byte Ttl, uint Source, uint Destination,
    bool DontFragment, bool IsFragment)
{
    public int L4 => L3 + HeaderLength;
    public int End => L3 + TotalLength;
    public int PayloadLength => TotalLength - HeaderLength;
}

/// <summary>What an L4 checksum field says about its segment.</summary>
internal enum L4Sum : byte
{
    /// <summary>Not TCP or UDP, or too short to hold the field.</summary>
    NotApplicable,
    Valid,
    Invalid,
    /// <summary>UDP with checksum 0: none was computed.</summary>
    Absent,
    /// <summary>Cannot be judged: a UDP length that covers less than the IP payload (which bytes the sum
    /// covers is then a matter of opinion), or frame metadata the kernel would not produce.</summary>
    Unknown,
}

/// <summary>A decoder for the fuzz checks, written from the RFCs without the engine's packet views or
/// checksum code (only <see cref="ReferenceChecksum"/> from the TestKit), so a bug shared by the parser and
/// the rewriter cannot hide itself: Ethernet with at most one 802.1Q tag, IPv4, the TCP/UDP/ICMP checksums.</summary>
internal static class ReferenceDecoder
{
    public const byte Icmp = 1, Tcp = 6, Udp = 17;

    /// <summary>The IPv4 header of an Ethernet frame, or why there is none that a receiver would accept
    /// (the checksum is judged separately, by <see cref="HeaderChecksumValid"/>).</summary>
    public static string? TryDecode(ReadOnlySpan<byte> frame, out Ipv4Layout layout)
    {
        layout = default;
        if (frame.Length < 14) return $"{frame.Length} bytes: shorter than an Ethernet header";
        var l3 = 14;
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (etherType == 0x8100)
        {
            if (frame.Length < 18) return "a cut 802.1Q tag";
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
            l3 = 18;
        }
        if (etherType != 0x0800) return $"EtherType 0x{etherType:x4} is not IPv4";
        if (frame.Length < l3 + 20) return $"{frame.Length - l3} bytes after the Ethernet header: no IPv4 header";
        var ip = frame[l3..];
        if (ip[0] >> 4 != 4) return $"IP version {ip[0] >> 4}";
        var ihl = (ip[0] & 0x0F) * 4;
        if (ihl < 20) return $"IHL {ihl / 4} words";
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (total < ihl) return $"total length {total} below the header length {ihl}";
        if (total > ip.Length) return $"total length {total} beyond the {ip.Length} bytes after the Ethernet header";
        var flags = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        layout = new Ipv4Layout(l3, ihl, total, ip[9], ip[8],
            BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
            DontFragment: (flags & 0x4000) != 0, IsFragment: (flags & 0x3FFF) != 0);
        return null;
    }

    public static bool HeaderChecksumValid(ReadOnlySpan<byte> frame, in Ipv4Layout v) =>
        ReferenceChecksum.Verifies(frame.Slice(v.L3, v.HeaderLength));

    /// <summary>Offset of the TCP or UDP checksum field within its header.</summary>
    public static int ChecksumFieldOffset(byte protocol) => protocol == Tcp ? 16 : 6;

    /// <summary>Bytes the TCP or UDP checksum covers, or -1 when that cannot be said (see <see cref="L4Sum.Unknown"/>).</summary>
    private static int Covered(ReadOnlySpan<byte> frame, in Ipv4Layout v)
    {
        var payload = v.PayloadLength;
        if (v.Protocol == Tcp) return payload >= 20 ? payload : -1;
        if (payload < 8) return -1;
        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(frame[(v.L4 + 4)..]);
        return udpLength == 0 || udpLength == payload ? payload : -1;
    }

    private static ulong Pseudo(in Ipv4Layout v, int length) => ReferenceChecksum.PseudoHeader(v.Source, v.Destination, v.Protocol, length);

    /// <summary>The TCP/UDP checksum as a receiver checks it (RFC 793, RFC 768).</summary>
    public static L4Sum FullL4(ReadOnlySpan<byte> frame, in Ipv4Layout v)
    {
        if (v.Protocol is not (Tcp or Udp)) return L4Sum.NotApplicable;
        var covered = Covered(frame, v);
        if (covered < 0) return L4Sum.Unknown;
        var segment = frame.Slice(v.L4, covered);
        if (v.Protocol == Udp && BinaryPrimitives.ReadUInt16BigEndian(segment[6..]) == 0) return L4Sum.Absent;
        return ReferenceChecksum.Verifies(segment, Pseudo(v, covered)) ? L4Sum.Valid : L4Sum.Invalid;
    }

    /// <summary>A partial checksum (CHECKSUM_PARTIAL): the field holds the folded, uncomplemented pseudo-header sum.</summary>
    public static L4Sum PartialL4(ReadOnlySpan<byte> frame, in Ipv4Layout v)
    {
        if (v.Protocol is not (Tcp or Udp)) return L4Sum.NotApplicable;
        var covered = Covered(frame, v);
        if (covered < 0) return L4Sum.Unknown;
        var field = BinaryPrimitives.ReadUInt16BigEndian(frame[(v.L4 + ChecksumFieldOffset(v.Protocol))..]);
        var expected = ReferenceChecksum.Sum([], Pseudo(v, covered));
        return OnesComplementEqual(field, expected) ? L4Sum.Valid : L4Sum.Invalid;
    }

    /// <summary>The ICMP checksum over the whole message (RFC 792).</summary>
    public static bool IcmpChecksumValid(ReadOnlySpan<byte> frame, in Ipv4Layout v) =>
        v.PayloadLength >= 4 && ReferenceChecksum.Verifies(frame[v.L4..v.End]);

    /// <summary>0 and 0xFFFF are the same number in one's complement.</summary>
    public static bool OnesComplementEqual(ushort a, ushort b) => a == b || (a is 0 or 0xFFFF && b is 0 or 0xFFFF);

    /// <summary>What the kernel does to a frame sent with VIRTIO_NET_HDR_F_NEEDS_CSUM and no GSO
    /// (skb_checksum_help): sums from <paramref name="start"/> to the end of what is sent, field included, and
    /// stores the folded complement there (0 as 0xFFFF). False when the offsets do not fit (the kernel refuses).</summary>
    public static bool CompleteLikeKernel(Span<byte> frame, int start, int offset)
    {
        if (start + offset + 2 > frame.Length) return false;
        var value = ReferenceChecksum.Compute(frame[start..]);
        if (value == 0) value = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(frame[(start + offset)..], value);
        return true;
    }

    /// <summary>The datagram an ICMP error quotes, when at least its IPv4 header and 8 bytes after it are there.</summary>
    public static bool TryQuote(ReadOnlySpan<byte> frame, in Ipv4Layout outer, out int ipOffset, out int headerLength, out int l4Offset)
    {
        ipOffset = outer.L4 + 8;
        headerLength = 0;
        l4Offset = 0;
        if (outer.End - ipOffset < 20 || frame[ipOffset] >> 4 != 4) return false;
        headerLength = (frame[ipOffset] & 0x0F) * 4;
        if (headerLength < 20) return false;
        l4Offset = ipOffset + headerLength;
        return outer.End - l4Offset >= 8;
    }

    /// <summary>The IPv4 header of a quoted datagram, laid out as if it were a frame's (its <see cref="Ipv4Layout.L3"/>
    /// is the quote's offset); its total length may exceed what is quoted.</summary>
    public static Ipv4Layout QuoteLayout(ReadOnlySpan<byte> frame, int ipOffset, int headerLength)
    {
        var ip = frame[ipOffset..];
        var flags = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        return new Ipv4Layout(ipOffset, headerLength, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]), ip[9], ip[8],
            BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
            (flags & 0x4000) != 0, (flags & 0x3FFF) != 0);
    }
}
