using System.Buffers.Binary;

namespace LoadBalancer.Core.Packets;

/// <summary>Zero-copy view of an IPv6 header, its extension headers and its upper-layer payload, bounded by the
/// payload length (Ethernet padding after it is excluded). The walk over extension headers is bounded: hop-by-hop
/// options, routing and destination options are stepped over (kept as they are), at most
/// <see cref="MaxExtensionHeaders"/> of them; a Fragment header ends the walk and marks the packet a fragment
/// (its ports, if any, are only in the first); any other next header (TCP, UDP, ICMPv6, ESP, AH, no next header,
/// anything unknown) is the upper layer, <see cref="Protocol"/>.</summary>
public readonly ref struct Ipv6Packet
{
    public const int HeaderLength = 40;
    public const int MaxExtensionHeaders = 8;

    public const byte HopByHop = 0;
    public const byte Routing = 43;
    public const byte Fragment = 44;
    public const byte DestinationOptions = 60;

    /// <summary>From the first header byte to the end of the payload (40 + payload length).</summary>
    public readonly Span<byte> Bytes;
    /// <summary>Offset of the upper-layer header (40 without extension headers), or of the Fragment header.</summary>
    public readonly int PayloadOffset;
    /// <summary>The upper-layer protocol (the last next header), or 44 for a fragment.</summary>
    public readonly byte Protocol;
    public readonly int ExtensionHeaders;

    private Ipv6Packet(Span<byte> bytes, int payloadOffset, byte protocol, int extensionHeaders)
    {
        Bytes = bytes;
        PayloadOffset = payloadOffset;
        Protocol = protocol;
        ExtensionHeaders = extensionHeaders;
    }

    public int TotalLength => Bytes.Length;
    public bool IsFragment => Protocol == Fragment;
    public bool HasExtensionHeaders => ExtensionHeaders != 0;

    public byte HopLimit
    {
        get => Bytes[7];
        set => Bytes[7] = value;
    }

    public UInt128 Source
    {
        get => BinaryPrimitives.ReadUInt128BigEndian(Bytes[8..]);
        set => BinaryPrimitives.WriteUInt128BigEndian(Bytes[8..], value);
    }

    public UInt128 Destination
    {
        get => BinaryPrimitives.ReadUInt128BigEndian(Bytes[24..]);
        set => BinaryPrimitives.WriteUInt128BigEndian(Bytes[24..], value);
    }

    public Span<byte> Payload => Bytes[PayloadOffset..];

    /// <summary>The destination address of a header, read before (or without) a full parse: for the decision
    /// whether a malformed packet is ours at all. Requires 40 bytes.</summary>
    public static UInt128 ReadDestination(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt128BigEndian(header[24..]);

    /// <summary>A payload length of 0 (a jumbogram, or a BIG TCP super-frame whose length only the ring knows) is
    /// refused as <see cref="DropReason.Ipv6BadPayloadLength"/>, as IPv4's total length 0 is.</summary>
    public static DropReason TryParse(Span<byte> bytes, out Ipv6Packet packet)
    {
        packet = default;
        if (bytes.Length < HeaderLength) return DropReason.Ipv6Truncated;
        if ((bytes[0] >> 4) != 6) return DropReason.Ipv6BadVersion;
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]);
        if (payloadLength == 0) return DropReason.Ipv6BadPayloadLength;
        var end = HeaderLength + payloadLength;
        if (end > bytes.Length) return DropReason.Ipv6Truncated;
        var next = bytes[6];
        var offset = HeaderLength;
        var count = 0;
        while (next is HopByHop or Routing or DestinationOptions)
        {
            // Hop-by-hop is only valid first; anywhere else it is malformed (RFC 8200 4.3).
            if (next == HopByHop && count != 0) return DropReason.Ipv6BadExtensionHeader;
            if (++count > MaxExtensionHeaders) return DropReason.Ipv6TooManyExtensionHeaders;
            if (offset + 2 > end) return DropReason.Ipv6Truncated;
            var length = (bytes[offset + 1] + 1) * 8;
            if (offset + length > end) return DropReason.Ipv6Truncated;
            next = bytes[offset];
            offset += length;
        }
        if (next == Fragment)
        {
            if (++count > MaxExtensionHeaders) return DropReason.Ipv6TooManyExtensionHeaders;
            if (offset + 8 > end) return DropReason.Ipv6Truncated;
        }
        packet = new Ipv6Packet(bytes[..end], offset, next, count);
        return DropReason.None;
    }
}
