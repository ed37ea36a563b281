using System.Buffers.Binary;

namespace LoadBalancer.Core.Packets;

/// <summary>Zero-copy view of an IPv4 header and its payload, bounded by the header's total length
/// (Ethernet padding after it is excluded). Options are kept as they are; fragments are recognised.</summary>
public readonly ref struct Ipv4Packet
{
    public const int MinimumHeaderLength = 20;

    /// <summary>From the first header byte to the end of the datagram (total length).</summary>
    public readonly Span<byte> Bytes;
    public readonly int HeaderLength;

    private Ipv4Packet(Span<byte> bytes, int headerLength)
    {
        Bytes = bytes;
        HeaderLength = headerLength;
    }

    public int TotalLength => Bytes.Length;
    public byte TypeOfService => Bytes[1];
    public ushort Identification => BinaryPrimitives.ReadUInt16BigEndian(Bytes[4..]);
    public bool MoreFragments => (Bytes[6] & 0x20) != 0;
    public bool DontFragment => (Bytes[6] & 0x40) != 0;
    /// <summary>Fragment offset in bytes.</summary>
    public int FragmentOffset => (BinaryPrimitives.ReadUInt16BigEndian(Bytes[6..]) & 0x1FFF) * 8;
    public bool IsFragment => MoreFragments || FragmentOffset != 0;
    public bool HasOptions => HeaderLength > MinimumHeaderLength;

    public byte TimeToLive
    {
        get => Bytes[8];
        set => Bytes[8] = value;
    }

    public byte Protocol => Bytes[9];

    public ushort HeaderChecksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[10..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[10..], value);
    }

    public uint Source
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[12..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[12..], value);
    }

    public uint Destination
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[16..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[16..], value);
    }

    public Span<byte> Header => Bytes[..HeaderLength];
    public Span<byte> Payload => Bytes[HeaderLength..];

    public bool HeaderChecksumValid => Checksum.Compute(Header) == 0;

    /// <summary>GSO super-frames beyond 64 KiB (BIG TCP) carry total length 0; they are rejected
    /// (<see cref="DropReason.Ipv4BadTotalLength"/>), because their real length is only known from the ring.</summary>
    public static DropReason TryParse(Span<byte> bytes, out Ipv4Packet packet)
    {
        packet = default;
        if (bytes.Length < MinimumHeaderLength) return DropReason.Ipv4Truncated;
        if ((bytes[0] >> 4) != 4) return DropReason.Ipv4BadVersion;
        var headerLength = (bytes[0] & 0x0F) * 4;
        if (headerLength < MinimumHeaderLength) return DropReason.Ipv4BadHeaderLength;
        if (headerLength > bytes.Length) return DropReason.Ipv4Truncated;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        if (totalLength < headerLength) return DropReason.Ipv4BadTotalLength;
        if (totalLength > bytes.Length) return DropReason.Ipv4Truncated;
        packet = new Ipv4Packet(bytes[..totalLength], headerLength);
        return DropReason.None;
    }

    /// <summary>Recomputes the header checksum from scratch (used by builders, not by the forwarders).</summary>
    public void UpdateHeaderChecksum()
    {
        HeaderChecksum = 0;
        HeaderChecksum = Checksum.Compute(Header);
    }
}
