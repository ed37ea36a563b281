using System.Buffers.Binary;

namespace LoadBalancer.Core.Packets;

[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
    Ece = 0x40,
    Cwr = 0x80,
}

/// <summary>Zero-copy view of a TCP header (options included in <see cref="HeaderLength"/>).</summary>
public readonly ref struct TcpSegment
{
    public const int MinimumHeaderLength = 20;
    public const int ChecksumOffset = 16;

    public readonly Span<byte> Bytes;
    public readonly int HeaderLength;

    private TcpSegment(Span<byte> bytes, int headerLength)
    {
        Bytes = bytes;
        HeaderLength = headerLength;
    }

    public ushort SourcePort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes, value);
    }

    public ushort DestinationPort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[2..], value);
    }

    public uint SequenceNumber => BinaryPrimitives.ReadUInt32BigEndian(Bytes[4..]);
    public uint AcknowledgementNumber => BinaryPrimitives.ReadUInt32BigEndian(Bytes[8..]);
    public TcpFlags Flags => (TcpFlags)Bytes[13];

    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[ChecksumOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[ChecksumOffset..], value);
    }

    public Span<byte> Payload => Bytes[HeaderLength..];

    public static DropReason TryParse(Span<byte> bytes, out TcpSegment segment)
    {
        segment = default;
        if (bytes.Length < MinimumHeaderLength) return DropReason.TcpTruncated;
        var headerLength = (bytes[12] >> 4) * 4;
        if (headerLength < MinimumHeaderLength) return DropReason.TcpBadDataOffset;
        if (headerLength > bytes.Length) return DropReason.TcpTruncated;
        segment = new TcpSegment(bytes, headerLength);
        return DropReason.None;
    }
}

/// <summary>Zero-copy view of a UDP header.</summary>
public readonly ref struct UdpDatagram
{
    public const int HeaderLength = 8;
    public const int ChecksumOffset = 6;

    public readonly Span<byte> Bytes;

    private UdpDatagram(Span<byte> bytes) => Bytes = bytes;

    public ushort SourcePort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes, value);
    }

    public ushort DestinationPort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[2..], value);
    }

    public ushort Length => BinaryPrimitives.ReadUInt16BigEndian(Bytes[4..]);

    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[ChecksumOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[ChecksumOffset..], value);
    }

    public Span<byte> Payload => Bytes[HeaderLength..];

    public static DropReason TryParse(Span<byte> bytes, out UdpDatagram datagram)
    {
        datagram = default;
        if (bytes.Length < HeaderLength) return DropReason.UdpTruncated;
        int length = BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]);
        // GSO UDP super-frames may carry a length that only the first segment honours; we only
        // require the header itself to be present and the stated length not to exceed the datagram.
        if (length != 0 && (length < HeaderLength || length > bytes.Length)) return DropReason.UdpBadLength;
        datagram = new UdpDatagram(bytes);
        return DropReason.None;
    }
}

/// <summary>Zero-copy view of an ICMP message header.</summary>
public readonly ref struct IcmpMessage
{
    public const int HeaderLength = 8;
    public const int ChecksumOffset = 2;

    public readonly Span<byte> Bytes;

    private IcmpMessage(Span<byte> bytes) => Bytes = bytes;

    public byte Type => Bytes[0];
    public byte Code => Bytes[1];

    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[2..], value);
    }

    /// <summary>Identifier of an echo request/reply (bytes 4-5).</summary>
    public ushort Identifier => BinaryPrimitives.ReadUInt16BigEndian(Bytes[4..]);
    public Span<byte> Body => Bytes[HeaderLength..];

    public bool IsError => Type is 3 or 4 or 5 or 11 or 12;

    public static DropReason TryParse(Span<byte> bytes, out IcmpMessage message)
    {
        message = default;
        if (bytes.Length < HeaderLength) return DropReason.IcmpTruncated;
        message = new IcmpMessage(bytes);
        return DropReason.None;
    }
}
