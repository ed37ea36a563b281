using System.Buffers.Binary;

namespace LoadBalancer.Core.Packets;

/// <summary>Zero-copy view of an Ethernet II frame with at most one 802.1Q tag.
/// Parsing never throws: a frame too short for its headers yields a <see cref="DropReason"/>.</summary>
public readonly ref struct EthernetFrame
{
    public const int HeaderLength = 14;
    public const int VlanTagLength = 4;

    public readonly Span<byte> Bytes;
    /// <summary>Offset of the network header: 14, or 18 behind a VLAN tag.</summary>
    public readonly int PayloadOffset;
    public readonly ushort EtherType;
    /// <summary>VLAN id of the tag, or -1 when untagged.</summary>
    public readonly int VlanId;

    private EthernetFrame(Span<byte> bytes, int payloadOffset, ushort etherType, int vlanId)
    {
        Bytes = bytes;
        PayloadOffset = payloadOffset;
        EtherType = etherType;
        VlanId = vlanId;
    }

    public MacAddress Destination
    {
        get => MacAddress.Read(Bytes);
        set => value.Write(Bytes);
    }

    public MacAddress Source
    {
        get => MacAddress.Read(Bytes[6..]);
        set => value.Write(Bytes[6..]);
    }

    public Span<byte> Payload => Bytes[PayloadOffset..];

    public static DropReason TryParse(Span<byte> bytes, out EthernetFrame frame)
    {
        frame = default;
        if (bytes.Length < HeaderLength) return DropReason.EthernetTruncated;
        var type = BinaryPrimitives.ReadUInt16BigEndian(bytes[12..]);
        if (type != EtherTypes.Vlan)
        {
            frame = new EthernetFrame(bytes, HeaderLength, type, -1);
            return DropReason.None;
        }
        if (bytes.Length < HeaderLength + VlanTagLength) return DropReason.VlanTruncated;
        var tci = BinaryPrimitives.ReadUInt16BigEndian(bytes[14..]);
        var inner = BinaryPrimitives.ReadUInt16BigEndian(bytes[16..]);
        // A second tag (QinQ) is not ours to interpret; report it as its own ethertype so callers pass it.
        frame = new EthernetFrame(bytes, HeaderLength + VlanTagLength, inner, tci & 0x0FFF);
        return DropReason.None;
    }
}
