using System.Buffers.Binary;

namespace LoadBalancer.Core.Packets;

/// <summary>Why a frame is not a neighbour solicitation or advertisement the engine may act on.</summary>
public enum NeighborDiscoveryError : byte
{
    None,
    /// <summary>Not ICMPv6 types 135/136 at all (nothing to count).</summary>
    NotNeighborDiscovery,
    /// <summary>Shorter than the 24 bytes every NS and NA has.</summary>
    Truncated,
    /// <summary>Not 255: it was routed, so it did not come from the link (RFC 4861 7.1.1).</summary>
    BadHopLimit,
    BadCode,
    BadChecksum,
    TargetMulticast,
    /// <summary>An option of length 0, one running past the message, too many of them, or a link-layer address
    /// option that is not the 8 bytes an Ethernet address takes.</summary>
    BadOption,
    /// <summary>Duplicate address detection (source ::) with a source link-layer option, or not sent to the target's
    /// solicited-node address.</summary>
    BadDuplicateAddressProbe,
    /// <summary>An advertisement with the solicited flag sent to a multicast address (RFC 4861 7.1.2).</summary>
    SolicitedToMulticast,
}

/// <summary>Zero-copy view of an ICMPv6 neighbour solicitation (type 135) or advertisement (136) of RFC 4861 on
/// Ethernet, and writers for both. <see cref="TryParse"/> admits only what RFC 4861 7.1.1/7.1.2 lets a node act on:
/// hop limit 255, code 0, a valid checksum over the IPv6 pseudo header, at least 24 bytes, a unicast target, every
/// option of non-zero length within the message (at most <see cref="MaxOptions"/> of them), and for duplicate address
/// detection (source ::) no source link-layer option and the target's solicited-node address as destination; an
/// advertisement to a multicast address is not solicited. The link-layer address option it exposes is the one the
/// message type carries (source for NS, target for NA); other options are stepped over.</summary>
public readonly ref struct NeighborDiscoveryPacket
{
    public const byte TypeSolicitation = 135;
    public const byte TypeAdvertisement = 136;
    public const int MessageLength = 24;
    public const int LinkLayerOptionLength = 8;
    public const byte OptionSourceLinkLayerAddress = 1;
    public const byte OptionTargetLinkLayerAddress = 2;
    /// <summary>More than any real NS or NA carries; bounds the walk over a hostile one.</summary>
    public const int MaxOptions = 16;
    /// <summary>IPv6 header, the message and one link-layer option: every NS and NA the engine writes.</summary>
    public const int PacketLength = Ipv6Packet.HeaderLength + MessageLength + LinkLayerOptionLength;

    public const byte FlagRouter = 0x80;
    public const byte FlagSolicited = 0x40;
    public const byte FlagOverride = 0x20;

    /// <summary>The ICMPv6 message, from its type to the end of the IPv6 payload.</summary>
    public readonly Span<byte> Bytes;
    private readonly int _linkLayerOption;

    private NeighborDiscoveryPacket(Span<byte> bytes, int linkLayerOption)
    {
        Bytes = bytes;
        _linkLayerOption = linkLayerOption;
    }

    public byte Type => Bytes[0];
    public bool IsSolicitation => Type == TypeSolicitation;
    public bool IsAdvertisement => Type == TypeAdvertisement;
    /// <summary>An advertisement's R, S and O bits (0 in a solicitation: the field is reserved).</summary>
    public byte Flags => Bytes[4];
    public bool IsSolicited => (Flags & FlagSolicited) != 0;
    public bool IsOverride => (Flags & FlagOverride) != 0;
    public UInt128 Target => BinaryPrimitives.ReadUInt128BigEndian(Bytes[8..]);
    public ushort ChecksumField => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]);

    /// <summary>A solicitation's source or an advertisement's target link-layer address option is present.</summary>
    public bool HasLinkLayerAddress => _linkLayerOption >= 0;
    /// <summary>The MAC that option gives (zero when there is none).</summary>
    public MacAddress LinkLayerAddress => _linkLayerOption >= 0 ? MacAddress.Read(Bytes[(_linkLayerOption + 2)..]) : MacAddress.Zero;

    /// <summary><paramref name="ip"/> is a parsed IPv6 packet; its upper layer must be ICMPv6.</summary>
    public static NeighborDiscoveryError TryParse(in Ipv6Packet ip, out NeighborDiscoveryPacket packet)
    {
        packet = default;
        if (ip.Protocol != IpProtocols.Icmpv6) return NeighborDiscoveryError.NotNeighborDiscovery;
        var message = ip.Payload;
        if (message.Length < 1 || message[0] is not (TypeSolicitation or TypeAdvertisement)) return NeighborDiscoveryError.NotNeighborDiscovery;
        if (message.Length < MessageLength) return NeighborDiscoveryError.Truncated;
        if (ip.HopLimit != 255) return NeighborDiscoveryError.BadHopLimit;
        if (message[1] != 0) return NeighborDiscoveryError.BadCode;
        var pseudo = Checksum.PseudoHeaderSum(ip.Source, ip.Destination, IpProtocols.Icmpv6, message.Length);
        if (Checksum.Compute(message, pseudo) != 0) return NeighborDiscoveryError.BadChecksum;
        if (Ipv6.IsMulticast(BinaryPrimitives.ReadUInt128BigEndian(message[8..]))) return NeighborDiscoveryError.TargetMulticast;

        var isSolicitation = message[0] == TypeSolicitation;
        var wanted = isSolicitation ? OptionSourceLinkLayerAddress : OptionTargetLinkLayerAddress;
        var linkLayer = -1;
        var offset = MessageLength;
        for (var count = 0; offset < message.Length; count++)
        {
            if (count == MaxOptions || message.Length - offset < 2) return NeighborDiscoveryError.BadOption;
            var length = message[offset + 1] * 8;
            if (length == 0 || offset + length > message.Length) return NeighborDiscoveryError.BadOption;
            if (message[offset] == wanted)
            {
                if (length != LinkLayerOptionLength) return NeighborDiscoveryError.BadOption;
                if (linkLayer < 0) linkLayer = offset;
            }
            offset += length;
        }

        if (isSolicitation && ip.Source == 0 && (linkLayer >= 0 || !Ipv6.IsSolicitedNode(ip.Destination)))
            return NeighborDiscoveryError.BadDuplicateAddressProbe;
        if (!isSolicitation && (message[4] & FlagSolicited) != 0 && Ipv6.IsMulticast(ip.Destination))
            return NeighborDiscoveryError.SolicitedToMulticast;
        packet = new NeighborDiscoveryPacket(message, linkLayer);
        return NeighborDiscoveryError.None;
    }

    /// <summary>An IPv6 header and a solicitation for <paramref name="target"/> (with our MAC as its source
    /// link-layer option, none when <paramref name="source"/> is ::) into <paramref name="packet"/>; its length.</summary>
    public static int WriteSolicitation(Span<byte> packet, UInt128 source, UInt128 destination, UInt128 target, MacAddress sourceMac) =>
        Write(packet, TypeSolicitation, 0, source, destination, target, source == 0 ? (byte)0 : OptionSourceLinkLayerAddress, sourceMac);

    /// <summary>An IPv6 header and an advertisement of <paramref name="target"/> at <paramref name="targetMac"/> into
    /// <paramref name="packet"/>; its length (<see cref="PacketLength"/>).</summary>
    public static int WriteAdvertisement(Span<byte> packet, UInt128 source, UInt128 destination, UInt128 target, byte flags, MacAddress targetMac) =>
        Write(packet, TypeAdvertisement, flags, source, destination, target, OptionTargetLinkLayerAddress, targetMac);

    /// <summary>A whole Ethernet frame soliciting <paramref name="target"/>'s MAC at its solicited-node address, from
    /// <paramref name="source"/> at <paramref name="ownMac"/>; its length.</summary>
    public static int WriteSolicitationFrame(Span<byte> frame, MacAddress ownMac, UInt128 source, UInt128 target)
    {
        var group = Ipv6.SolicitedNode(target);
        WriteEthernet(frame, Ipv6.MulticastMac(group), ownMac);
        return EthernetFrame.HeaderLength + WriteSolicitation(frame[EthernetFrame.HeaderLength..], source, group, target, ownMac);
    }

    /// <summary>A whole Ethernet frame advertising <paramref name="target"/> at <paramref name="targetMac"/>; its length.</summary>
    public static int WriteAdvertisementFrame(Span<byte> frame, MacAddress ethernetDestination, MacAddress ethernetSource,
        UInt128 source, UInt128 destination, UInt128 target, byte flags, MacAddress targetMac)
    {
        WriteEthernet(frame, ethernetDestination, ethernetSource);
        return EthernetFrame.HeaderLength + WriteAdvertisement(frame[EthernetFrame.HeaderLength..], source, destination, target, flags, targetMac);
    }

    private static void WriteEthernet(Span<byte> frame, MacAddress destination, MacAddress source)
    {
        if (frame.Length < EthernetFrame.HeaderLength + PacketLength) throw new ArgumentException("buffer too small for a neighbour discovery frame", nameof(frame));
        destination.Write(frame);
        source.Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Ipv6);
    }

    private static int Write(Span<byte> packet, byte type, byte flags, UInt128 source, UInt128 destination, UInt128 target, byte option, MacAddress mac)
    {
        var messageLength = MessageLength + (option != 0 ? LinkLayerOptionLength : 0);
        var total = Ipv6Packet.HeaderLength + messageLength;
        if (packet.Length < total) throw new ArgumentException("buffer too small for a neighbour discovery packet", nameof(packet));
        BinaryPrimitives.WriteUInt32BigEndian(packet, 0x6000_0000);
        BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)messageLength);
        packet[6] = IpProtocols.Icmpv6;
        packet[7] = 255;
        Ipv6.Write(packet[8..], source);
        Ipv6.Write(packet[24..], destination);
        var m = packet.Slice(Ipv6Packet.HeaderLength, messageLength);
        m.Clear();
        m[0] = type;
        m[4] = flags;
        Ipv6.Write(m[8..], target);
        if (option != 0)
        {
            m[MessageLength] = option;
            m[MessageLength + 1] = 1;
            mac.Write(m[(MessageLength + 2)..]);
        }
        var sum = Checksum.Compute(m, Checksum.PseudoHeaderSum(source, destination, IpProtocols.Icmpv6, messageLength));
        BinaryPrimitives.WriteUInt16BigEndian(m[2..], sum);
        return total;
    }
}
