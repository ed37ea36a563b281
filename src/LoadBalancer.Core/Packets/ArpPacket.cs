using System.Buffers.Binary;

namespace LoadBalancer.Core.Packets;

/// <summary>Zero-copy view of an Ethernet/IPv4 ARP packet (the only kind the engine speaks).</summary>
public readonly ref struct ArpPacket
{
    public const int Length = 28;
    public const ushort OperationRequest = 1;
    public const ushort OperationReply = 2;

    public readonly Span<byte> Bytes;

    private ArpPacket(Span<byte> bytes) => Bytes = bytes;

    public ushort Operation
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[6..], value);
    }

    public MacAddress SenderHardwareAddress
    {
        get => MacAddress.Read(Bytes[8..]);
        set => value.Write(Bytes[8..]);
    }

    public uint SenderProtocolAddress
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[14..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[14..], value);
    }

    public MacAddress TargetHardwareAddress
    {
        get => MacAddress.Read(Bytes[18..]);
        set => value.Write(Bytes[18..]);
    }

    public uint TargetProtocolAddress
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(Bytes[24..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(Bytes[24..], value);
    }

    public static DropReason TryParse(Span<byte> bytes, out ArpPacket packet)
    {
        packet = default;
        if (bytes.Length < Length) return DropReason.ArpTruncated;
        // Ethernet hardware (1), IPv4 protocol, 6-byte and 4-byte addresses; anything else is not for us.
        if (BinaryPrimitives.ReadUInt16BigEndian(bytes) != 1 || BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]) != EtherTypes.Ipv4
            || bytes[4] != 6 || bytes[5] != 4)
            return DropReason.ArpUnsupported;
        packet = new ArpPacket(bytes[..Length]);
        return DropReason.None;
    }

    /// <summary>Writes a whole Ethernet + ARP frame (42 bytes, unpadded) into <paramref name="frame"/>.</summary>
    public static int WriteFrame(Span<byte> frame, ushort operation, MacAddress ethernetDestination, MacAddress senderMac,
        uint senderIp, MacAddress targetMac, uint targetIp)
    {
        const int total = EthernetFrame.HeaderLength + Length;
        if (frame.Length < total) throw new ArgumentException("buffer too small for an ARP frame", nameof(frame));
        ethernetDestination.Write(frame);
        senderMac.Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Arp);
        var arp = frame[EthernetFrame.HeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], EtherTypes.Ipv4);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], operation);
        senderMac.Write(arp[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], senderIp);
        targetMac.Write(arp[18..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[24..], targetIp);
        return total;
    }
}
