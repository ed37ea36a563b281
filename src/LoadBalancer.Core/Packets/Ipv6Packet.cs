using System.Buffers.Binary;

namespace LoadBalancer.Core.Packets;

/// <summary>Zero-copy view of the fixed IPv6 header. IPv6 is recognised (so it is passed to the kernel
/// and counted rather than mistaken for garbage); extension headers are not walked yet.</summary>
public readonly ref struct Ipv6Packet
{
    public const int HeaderLength = 40;

    public readonly Span<byte> Bytes;

    private Ipv6Packet(Span<byte> bytes) => Bytes = bytes;

    public ushort PayloadLength => BinaryPrimitives.ReadUInt16BigEndian(Bytes[4..]);
    public byte NextHeader => Bytes[6];
    public byte HopLimit => Bytes[7];
    public ReadOnlySpan<byte> Source => Bytes.Slice(8, 16);
    public ReadOnlySpan<byte> Destination => Bytes.Slice(24, 16);
    public Span<byte> Payload => Bytes[HeaderLength..];

    public static DropReason TryParse(Span<byte> bytes, out Ipv6Packet packet)
    {
        packet = default;
        if (bytes.Length < HeaderLength) return DropReason.Ipv6Truncated;
        if ((bytes[0] >> 4) != 6) return DropReason.Ipv6BadVersion;
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]);
        // Payload length 0 with a jumbo option is legal but not ours to forward; it still parses.
        if (HeaderLength + payloadLength > bytes.Length) return DropReason.Ipv6Truncated;
        packet = new Ipv6Packet(payloadLength == 0 ? bytes : bytes[..(HeaderLength + payloadLength)]);
        return DropReason.None;
    }
}
