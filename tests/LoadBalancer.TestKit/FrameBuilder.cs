using System.Buffers.Binary;
using System.Net;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.TestKit;

/// <summary>What to put in a checksum field when a frame is built.</summary>
public enum ChecksumMode
{
    /// <summary>The correct checksum.</summary>
    Correct,
    /// <summary>A wrong checksum (the correct one with some bits flipped).</summary>
    Corrupt,
    /// <summary>Zero (for UDP: "no checksum").</summary>
    Zero,
    /// <summary>L4 only: the folded, uncomplemented pseudo-header sum, as a sender using checksum offload
    /// (CHECKSUM_PARTIAL / TP_STATUS_CSUMNOTREADY) leaves it.</summary>
    Partial,
}

public enum L4Kind
{
    Tcp,
    Udp,
    Icmp,
    /// <summary>No L4 header is built: the payload follows the IP header as it is.</summary>
    Raw,
}

/// <summary>Builds Ethernet (optionally 802.1Q-tagged) IPv4 frames carrying TCP, UDP, ICMP or raw bytes, and
/// ARP and minimal IPv6 frames. Checksums are correct unless asked otherwise, and every header field the
/// parsers look at can be overridden to make malformed frames. The bytes are written here by hand
/// (with <see cref="ReferenceChecksum"/>), not through the engine's packet views, so tests that parse
/// builder output with the views check one implementation against another.</summary>
public sealed class FrameBuilder
{
    public static readonly MacAddress DefaultSourceMac = MacAddress.Parse("02:00:00:00:aa:01");
    public static readonly MacAddress DefaultDestinationMac = MacAddress.Parse("02:00:00:00:00:fe");

    private const int EthernetHeader = 14;
    private const int VlanTag = 4;

    // Ethernet
    private MacAddress _ethDestination = DefaultDestinationMac;
    private MacAddress _ethSource = DefaultSourceMac;
    private int? _vlanId;
    private byte _vlanPriority;
    private ushort? _etherType;
    private int _padTo;
    private byte _padByte;

    // IPv4
    private uint _ipSource;
    private uint _ipDestination;
    private byte _tos;
    private ushort _identification = 1;
    private bool _dontFragment;
    private bool _moreFragments;
    private int _fragmentOffsetBytes;
    private byte _ttl = 64;
    private byte? _protocol;
    private byte[] _ipOptions = [];
    private int? _ipVersion;
    private int? _ihlWords;
    private int? _totalLength;
    private ChecksumMode _ipChecksum = ChecksumMode.Correct;

    // L4
    private L4Kind _l4;
    private ushort _sourcePort;
    private ushort _destinationPort;
    private uint _sequence;
    private uint _acknowledgement;
    private TcpFlags _tcpFlags = TcpFlags.Ack;
    private ushort _window = 8192;
    private byte[] _tcpOptions = [];
    private int? _dataOffsetWords;
    private int? _udpLength;
    private byte _icmpType = 8;
    private byte _icmpCode;
    private ushort _icmpIdentifier;
    private ushort _icmpSequence;
    private ChecksumMode _l4Checksum = ChecksumMode.Correct;
    private byte[] _payload = [];

    private FrameBuilder(L4Kind l4, uint source, uint destination)
    {
        _l4 = l4;
        _ipSource = source;
        _ipDestination = destination;
    }

    public static uint Ip(string dotted)
    {
        var bytes = IPAddress.Parse(dotted).GetAddressBytes();
        if (bytes.Length != 4) throw new ArgumentException($"{dotted} is not IPv4", nameof(dotted));
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    public static FrameBuilder Tcp(string source, ushort sourcePort, string destination, ushort destinationPort) =>
        new FrameBuilder(L4Kind.Tcp, Ip(source), Ip(destination)).Ports(sourcePort, destinationPort);

    public static FrameBuilder Tcp(uint source, ushort sourcePort, uint destination, ushort destinationPort) =>
        new FrameBuilder(L4Kind.Tcp, source, destination).Ports(sourcePort, destinationPort);

    public static FrameBuilder Udp(string source, ushort sourcePort, string destination, ushort destinationPort) =>
        new FrameBuilder(L4Kind.Udp, Ip(source), Ip(destination)).Ports(sourcePort, destinationPort);

    public static FrameBuilder Icmp(string source, string destination) =>
        new(L4Kind.Icmp, Ip(source), Ip(destination));

    /// <summary>An IPv4 frame whose payload is given raw, with the given protocol number.</summary>
    public static FrameBuilder Ipv4Raw(string source, string destination, byte protocol) =>
        new FrameBuilder(L4Kind.Raw, Ip(source), Ip(destination)).Protocol(protocol);

    // ---- Ethernet ----
    public FrameBuilder EthernetDestination(MacAddress mac) { _ethDestination = mac; return this; }
    public FrameBuilder EthernetSource(MacAddress mac) { _ethSource = mac; return this; }
    public FrameBuilder Vlan(int id, byte priority = 0) { _vlanId = id; _vlanPriority = priority; return this; }
    /// <summary>Overrides the (inner) EtherType, e.g. to label an IPv4 packet as something else.</summary>
    public FrameBuilder EtherType(ushort etherType) { _etherType = etherType; return this; }
    /// <summary>Pads the frame with <paramref name="fill"/> bytes up to <paramref name="length"/> (Ethernet minimum is 60 without FCS).</summary>
    public FrameBuilder PadTo(int length, byte fill = 0) { _padTo = length; _padByte = fill; return this; }

    // ---- IPv4 ----
    public FrameBuilder Tos(byte tos) { _tos = tos; return this; }
    public FrameBuilder Identification(ushort id) { _identification = id; return this; }
    public FrameBuilder Ttl(byte ttl) { _ttl = ttl; return this; }
    public FrameBuilder DontFragment(bool value = true) { _dontFragment = value; return this; }
    /// <summary>Fragment flags and offset (in bytes, a multiple of 8).</summary>
    public FrameBuilder Fragment(bool moreFragments, int offsetBytes)
    {
        if (offsetBytes % 8 != 0) throw new ArgumentException("fragment offset must be a multiple of 8", nameof(offsetBytes));
        _moreFragments = moreFragments;
        _fragmentOffsetBytes = offsetBytes;
        return this;
    }
    public FrameBuilder Protocol(byte protocol) { _protocol = protocol; return this; }
    /// <summary>IPv4 options, padded with End-of-Options (0) to a multiple of 4 bytes.</summary>
    public FrameBuilder IpOptions(params byte[] options) { _ipOptions = PadTo4(options); return this; }
    public FrameBuilder IpVersion(int version) { _ipVersion = version; return this; }
    /// <summary>Overrides the header length field (IHL, in 32-bit words) without changing the bytes written.</summary>
    public FrameBuilder IhlWords(int words) { _ihlWords = words; return this; }
    public FrameBuilder TotalLength(int length) { _totalLength = length; return this; }
    public FrameBuilder IpChecksum(ChecksumMode mode) { _ipChecksum = mode; return this; }

    // ---- L4 ----
    public FrameBuilder Ports(ushort source, ushort destination) { _sourcePort = source; _destinationPort = destination; return this; }
    /// <summary>A new destination address and port (the frame as NAT sends it on).</summary>
    public FrameBuilder Retarget(string destination, ushort port) { _ipDestination = Ip(destination); _destinationPort = port; return this; }
    public FrameBuilder Flags(TcpFlags flags) { _tcpFlags = flags; return this; }
    public FrameBuilder Sequence(uint sequence, uint acknowledgement = 0) { _sequence = sequence; _acknowledgement = acknowledgement; return this; }
    public FrameBuilder Window(ushort window) { _window = window; return this; }
    /// <summary>TCP options, padded with End-of-Options (0) to a multiple of 4 bytes.</summary>
    public FrameBuilder TcpOptions(params byte[] options) { _tcpOptions = PadTo4(options); return this; }
    /// <summary>Overrides the TCP data offset field (in 32-bit words) without changing the bytes written.</summary>
    public FrameBuilder DataOffsetWords(int words) { _dataOffsetWords = words; return this; }
    public FrameBuilder UdpLength(int length) { _udpLength = length; return this; }
    public FrameBuilder IcmpHeader(byte type, byte code, ushort identifier = 0, ushort sequence = 0)
    {
        _icmpType = type;
        _icmpCode = code;
        _icmpIdentifier = identifier;
        _icmpSequence = sequence;
        return this;
    }
    public FrameBuilder L4Checksum(ChecksumMode mode) { _l4Checksum = mode; return this; }
    public FrameBuilder Payload(params byte[] payload) { _payload = payload; return this; }
    public FrameBuilder Payload(string ascii) { _payload = System.Text.Encoding.ASCII.GetBytes(ascii); return this; }

    // ---- layout ----
    public int L3Offset => EthernetHeader + (_vlanId.HasValue ? VlanTag : 0);
    public int IpHeaderLength => 20 + _ipOptions.Length;
    public int L4Offset => L3Offset + IpHeaderLength;
    public int L4HeaderLength => _l4 switch
    {
        L4Kind.Tcp => 20 + _tcpOptions.Length,
        L4Kind.Udp => 8,
        L4Kind.Icmp => 8,
        _ => 0,
    };
    /// <summary>Offset of the L4 checksum field within the L4 header (TCP 16, UDP 6, ICMP 2).</summary>
    public int L4ChecksumOffset => _l4 switch
    {
        L4Kind.Tcp => 16,
        L4Kind.Udp => 6,
        L4Kind.Icmp => 2,
        _ => throw new InvalidOperationException("raw payload has no checksum"),
    };
    public int DatagramLength => IpHeaderLength + L4HeaderLength + _payload.Length;
    public uint SourceAddress => _ipSource;
    public uint DestinationAddress => _ipDestination;

    /// <summary>A copy of this builder, to derive variants of one frame.</summary>
    public FrameBuilder Clone() => (FrameBuilder)MemberwiseClone();

    public byte[] Build()
    {
        var l3 = L3Offset;
        var datagram = DatagramLength;
        var frame = new byte[Math.Max(l3 + datagram, _padTo)];
        frame.AsSpan(l3 + datagram).Fill(_padByte);

        // Ethernet (and 802.1Q)
        WriteMac(frame.AsSpan(0), _ethDestination);
        WriteMac(frame.AsSpan(6), _ethSource);
        var etherType = _etherType ?? (ushort)0x0800;
        if (_vlanId is { } vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), (ushort)((_vlanPriority << 13) | (vlan & 0x0FFF)));
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), etherType);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        }

        // IPv4 header
        var ip = frame.AsSpan(l3, datagram);
        var ihl = _ihlWords ?? IpHeaderLength / 4;
        ip[0] = (byte)(((_ipVersion ?? 4) << 4) | (ihl & 0x0F));
        ip[1] = _tos;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(_totalLength ?? datagram));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], _identification);
        var flagsAndOffset = (_dontFragment ? 0x4000 : 0) | (_moreFragments ? 0x2000 : 0) | (_fragmentOffsetBytes / 8);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)flagsAndOffset);
        ip[8] = _ttl;
        ip[9] = _protocol ?? _l4 switch
        {
            L4Kind.Tcp => (byte)6,
            L4Kind.Udp => (byte)17,
            L4Kind.Icmp => (byte)1,
            _ => (byte)255,
        };
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], _ipSource);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], _ipDestination);
        _ipOptions.CopyTo(ip[20..]);
        var ipChecksum = ReferenceChecksum.Compute(ip[..IpHeaderLength]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Apply(_ipChecksum, ipChecksum, 0));

        // L4
        var l4 = ip[IpHeaderLength..];
        var protocol = ip[9];
        switch (_l4)
        {
            case L4Kind.Tcp:
            {
                BinaryPrimitives.WriteUInt16BigEndian(l4, _sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], _destinationPort);
                BinaryPrimitives.WriteUInt32BigEndian(l4[4..], _sequence);
                BinaryPrimitives.WriteUInt32BigEndian(l4[8..], _acknowledgement);
                var dataOffset = _dataOffsetWords ?? L4HeaderLength / 4;
                l4[12] = (byte)((dataOffset & 0x0F) << 4);
                l4[13] = (byte)_tcpFlags;
                BinaryPrimitives.WriteUInt16BigEndian(l4[14..], _window);
                // The urgent pointer (bytes 18-19) stays 0.
                _tcpOptions.CopyTo(l4[20..]);
                _payload.CopyTo(l4[L4HeaderLength..]);
                WriteTransportChecksum(l4, protocol, 16);
                break;
            }
            case L4Kind.Udp:
            {
                BinaryPrimitives.WriteUInt16BigEndian(l4, _sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], _destinationPort);
                BinaryPrimitives.WriteUInt16BigEndian(l4[4..], (ushort)(_udpLength ?? l4.Length));
                _payload.CopyTo(l4[8..]);
                WriteTransportChecksum(l4, protocol, 6);
                break;
            }
            case L4Kind.Icmp:
            {
                l4[0] = _icmpType;
                l4[1] = _icmpCode;
                BinaryPrimitives.WriteUInt16BigEndian(l4[4..], _icmpIdentifier);
                BinaryPrimitives.WriteUInt16BigEndian(l4[6..], _icmpSequence);
                _payload.CopyTo(l4[8..]);
                var sum = ReferenceChecksum.Compute(l4);
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], Apply(_l4Checksum, sum, 0));
                break;
            }
            default:
                _payload.CopyTo(l4);
                break;
        }
        return frame;
    }

    private void WriteTransportChecksum(Span<byte> l4, byte protocol, int fieldOffset)
    {
        var pseudo = ReferenceChecksum.PseudoHeader(_ipSource, _ipDestination, protocol, l4.Length);
        var full = ReferenceChecksum.Compute(l4, pseudo);
        // UDP sends a computed 0 as 0xFFFF: 0 means "no checksum".
        if (protocol == 17 && full == 0) full = 0xFFFF;
        var partial = ReferenceChecksum.Sum([], pseudo);
        BinaryPrimitives.WriteUInt16BigEndian(l4[fieldOffset..], Apply(_l4Checksum, full, partial));
    }

    private static ushort Apply(ChecksumMode mode, ushort correct, ushort partial) => mode switch
    {
        ChecksumMode.Correct => correct,
        // Flipping a few bits changes the value by less than 0xFFFF, so it can never be an equivalent (+0/-0) form.
        ChecksumMode.Corrupt => (ushort)(correct ^ 0x0101),
        ChecksumMode.Zero => 0,
        ChecksumMode.Partial => partial,
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    private static byte[] PadTo4(byte[] options)
    {
        var padded = new byte[(options.Length + 3) / 4 * 4];
        options.CopyTo(padded, 0);
        return padded;
    }

    private static void WriteMac(Span<byte> destination, MacAddress mac)
    {
        for (var i = 0; i < 6; i++)
            destination[i] = (byte)(mac.Value >> (40 - 8 * i));
    }

    /// <summary>The same frame with other Ethernet addresses: what direct routing should turn a frame into.</summary>
    public static byte[] WithMacs(byte[] frame, MacAddress destination, MacAddress source)
    {
        var copy = (byte[])frame.Clone();
        WriteMac(copy, destination);
        WriteMac(copy.AsSpan(6), source);
        return copy;
    }

    /// <summary>The IPv4 source address of an untagged frame, dotted.</summary>
    public static string SourceIp(byte[] frame) => Ipv4.Format(BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(EthernetHeader + 12)));

    /// <summary>The IPv4 destination address of an untagged frame, dotted.</summary>
    public static string DestinationIp(byte[] frame) => Ipv4.Format(BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(EthernetHeader + 16)));

    /// <summary>An Ethernet + ARP (Ethernet/IPv4) frame, 42 bytes unless padded.</summary>
    public static byte[] Arp(ushort operation, MacAddress ethernetDestination, MacAddress senderMac, string senderIp,
        MacAddress targetMac, string targetIp, int? vlanId = null, int padTo = 0, MacAddress? ethernetSource = null)
    {
        var l3 = EthernetHeader + (vlanId.HasValue ? VlanTag : 0);
        var frame = new byte[Math.Max(l3 + 28, padTo)];
        WriteMac(frame, ethernetDestination);
        WriteMac(frame.AsSpan(6), ethernetSource ?? senderMac);
        if (vlanId is { } vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), (ushort)(vlan & 0x0FFF));
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), 0x0806);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0806);
        }
        var arp = frame.AsSpan(l3);
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);          // hardware: Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], 0x0800); // protocol: IPv4
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], operation);
        WriteMac(arp[8..], senderMac);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], Ip(senderIp));
        WriteMac(arp[18..], targetMac);
        BinaryPrimitives.WriteUInt32BigEndian(arp[24..], Ip(targetIp));
        return frame;
    }

    /// <summary>A broadcast "who has <paramref name="targetIp"/>" request.</summary>
    public static byte[] ArpRequest(MacAddress senderMac, string senderIp, string targetIp, int? vlanId = null) =>
        Arp(1, MacAddress.Broadcast, senderMac, senderIp, MacAddress.Zero, targetIp, vlanId);

    /// <summary>A minimal IPv6 frame (fixed header, next header 59 "no next header", zero payload bytes given).</summary>
    public static byte[] Ipv6(int payloadLength = 8, byte nextHeader = 59, MacAddress? destination = null)
    {
        var frame = new byte[EthernetHeader + 40 + payloadLength];
        WriteMac(frame, destination ?? DefaultDestinationMac);
        WriteMac(frame.AsSpan(6), DefaultSourceMac);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x86DD);
        var ip = frame.AsSpan(EthernetHeader);
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)payloadLength);
        ip[6] = nextHeader;
        ip[7] = 64;
        ip[23] = 1; // ::1 style source ...::1
        ip[39] = 2; // destination ...::2
        return frame;
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
