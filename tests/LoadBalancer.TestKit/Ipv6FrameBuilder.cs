using System.Buffers.Binary;
using System.Net;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.TestKit;

/// <summary>Builds Ethernet (optionally 802.1Q-tagged) IPv6 frames carrying extension headers and TCP, UDP, ICMPv6 or
/// raw bytes, with correct checksums (the IPv6 pseudo-header) unless asked otherwise, and every field the parsers
/// read overridable to make malformed frames. Written by hand with <see cref="ReferenceChecksum"/>, not through the
/// engine's views, so tests check one implementation against another.</summary>
public sealed class Ipv6FrameBuilder
{
    private const int EthernetHeader = 14;

    private MacAddress _ethDestination = FrameBuilder.DefaultDestinationMac;
    private MacAddress _ethSource = FrameBuilder.DefaultSourceMac;
    private int? _vlanId;
    private readonly byte[] _source;
    private readonly byte[] _destination;
    private byte _hopLimit = 64;
    private int? _payloadLength;
    private int? _version;
    private readonly List<(byte Type, byte[] Body)> _extensions = new();
    private (ushort OffsetBytes, bool More)? _fragment;
    private readonly L4Kind _l4;
    private readonly byte _protocol;
    private readonly ushort _sourcePort;
    private readonly ushort _destinationPort;
    private TcpFlags _tcpFlags = TcpFlags.Ack;
    private byte _icmpType = 128;
    private byte _icmpCode;
    private byte[] _icmpRest = new byte[4];
    private ChecksumMode _l4Checksum = ChecksumMode.Correct;
    private byte[] _payload = [];
    private int _padTo;

    private Ipv6FrameBuilder(L4Kind l4, byte protocol, string source, ushort sourcePort, string destination, ushort destinationPort)
    {
        _l4 = l4;
        _protocol = protocol;
        _source = Address(source);
        _destination = Address(destination);
        _sourcePort = sourcePort;
        _destinationPort = destinationPort;
    }

    private static byte[] Address(string text)
    {
        var a = IPAddress.Parse(text);
        if (a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) throw new ArgumentException($"{text} is not IPv6", nameof(text));
        return a.GetAddressBytes();
    }

    public static Ipv6FrameBuilder Tcp(string source, ushort sourcePort, string destination, ushort destinationPort) =>
        new(L4Kind.Tcp, IpProtocols.Tcp, source, sourcePort, destination, destinationPort);

    public static Ipv6FrameBuilder Udp(string source, ushort sourcePort, string destination, ushort destinationPort) =>
        new(L4Kind.Udp, IpProtocols.Udp, source, sourcePort, destination, destinationPort);

    public static Ipv6FrameBuilder Icmpv6(string source, string destination, byte type, byte code = 0) =>
        new Ipv6FrameBuilder(L4Kind.Icmp, IpProtocols.Icmpv6, source, 0, destination, 0) { _icmpType = type, _icmpCode = code };

    /// <summary>No L4 header: <paramref name="nextHeader"/> and the payload as they are.</summary>
    public static Ipv6FrameBuilder Raw(string source, string destination, byte nextHeader) => new(L4Kind.Raw, nextHeader, source, 0, destination, 0);

    public Ipv6FrameBuilder Macs(MacAddress destination, MacAddress source) { _ethDestination = destination; _ethSource = source; return this; }
    public Ipv6FrameBuilder Vlan(int id) { _vlanId = id; return this; }
    public Ipv6FrameBuilder HopLimit(byte value) { _hopLimit = value; return this; }
    public Ipv6FrameBuilder PayloadLength(int value) { _payloadLength = value; return this; }
    public Ipv6FrameBuilder Version(int value) { _version = value; return this; }
    public Ipv6FrameBuilder Flags(TcpFlags flags) { _tcpFlags = flags; return this; }
    public Ipv6FrameBuilder L4Checksum(ChecksumMode mode) { _l4Checksum = mode; return this; }
    public Ipv6FrameBuilder Payload(params byte[] bytes) { _payload = bytes; return this; }
    public Ipv6FrameBuilder Payload(string text) { _payload = System.Text.Encoding.ASCII.GetBytes(text); return this; }
    public Ipv6FrameBuilder PadTo(int length) { _padTo = length; return this; }
    /// <summary>ICMPv6: the 4 bytes after the checksum (unused, MTU, pointer).</summary>
    public Ipv6FrameBuilder IcmpRest(uint value) { _icmpRest = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(_icmpRest, value); return this; }

    /// <summary>An extension header (hop-by-hop 0, routing 43, destination options 60) of 8 bytes (padded options).</summary>
    public Ipv6FrameBuilder Extension(byte type, int lengthUnits = 0)
    {
        var body = new byte[(lengthUnits + 1) * 8 - 2];
        if (type is Ipv6Packet.HopByHop or Ipv6Packet.DestinationOptions)
        {
            // PadN filling the header, so it is a valid options header.
            body[0] = 1;
            body[1] = (byte)(body.Length - 2);
        }
        _extensions.Add((type, body));
        return this;
    }

    /// <summary>A Fragment header after the other extension headers.</summary>
    public Ipv6FrameBuilder Fragment(ushort offsetBytes, bool more) { _fragment = (offsetBytes, more); return this; }

    public byte[] Build()
    {
        var l4 = L4Bytes();
        var extLength = 0;
        foreach (var (_, body) in _extensions) extLength += body.Length + 2;
        if (_fragment is not null) extLength += 8;
        var l3 = EthernetHeader + (_vlanId.HasValue ? 4 : 0);
        var payloadLength = extLength + l4.Length;
        var frame = new byte[Math.Max(l3 + 40 + payloadLength, _padTo)];
        Mac(frame, _ethDestination);
        Mac(frame.AsSpan(6), _ethSource);
        if (_vlanId is { } vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), (ushort)(vlan & 0x0FFF));
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), 0x86DD);
        }
        else BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x86DD);
        var ip = frame.AsSpan(l3);
        ip[0] = (byte)((_version ?? 6) << 4);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(_payloadLength ?? payloadLength));
        ip[7] = _hopLimit;
        _source.CopyTo(ip[8..]);
        _destination.CopyTo(ip[24..]);
        // Next-header chain: fixed header -> extensions -> fragment -> upper layer.
        var offset = 40;
        var nextField = 6;
        foreach (var (type, body) in _extensions)
        {
            ip[nextField] = type;
            ip[offset + 1] = (byte)((body.Length + 2) / 8 - 1);
            body.CopyTo(ip[(offset + 2)..]);
            nextField = offset;
            offset += body.Length + 2;
        }
        if (_fragment is { } f)
        {
            ip[nextField] = Ipv6Packet.Fragment;
            BinaryPrimitives.WriteUInt16BigEndian(ip[(offset + 2)..], (ushort)((f.OffsetBytes & 0xFFF8) | (f.More ? 1 : 0)));
            BinaryPrimitives.WriteUInt32BigEndian(ip[(offset + 4)..], 0x1234);
            nextField = offset;
            offset += 8;
        }
        ip[nextField] = _protocol;
        l4.CopyTo(ip[offset..]);
        var checksumAt = _l4 switch { L4Kind.Tcp => 16, L4Kind.Udp => 6, L4Kind.Icmp => 2, _ => -1 };
        if (checksumAt >= 0)
        {
            var segment = ip.Slice(offset, l4.Length);
            var pseudo = PseudoHeader(_source, _destination, _protocol, l4.Length);
            var correct = ReferenceChecksum.Compute(segment, pseudo);
            if (_l4 == L4Kind.Udp && correct == 0) correct = 0xFFFF;
            var partial = ReferenceChecksum.Sum([], pseudo);
            BinaryPrimitives.WriteUInt16BigEndian(segment[checksumAt..], _l4Checksum switch
            {
                ChecksumMode.Correct => correct,
                ChecksumMode.Corrupt => (ushort)(correct ^ 0x0101),
                ChecksumMode.Zero => 0,
                ChecksumMode.Partial => partial,
                _ => throw new ArgumentOutOfRangeException(nameof(_l4Checksum)),
            });
        }
        return frame;
    }

    private byte[] L4Bytes()
    {
        switch (_l4)
        {
            case L4Kind.Tcp:
            {
                var b = new byte[20 + _payload.Length];
                BinaryPrimitives.WriteUInt16BigEndian(b, _sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), _destinationPort);
                BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4), 1000);
                b[12] = 5 << 4;
                b[13] = (byte)_tcpFlags;
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(14), 8192);
                _payload.CopyTo(b, 20);
                return b;
            }
            case L4Kind.Udp:
            {
                var b = new byte[8 + _payload.Length];
                BinaryPrimitives.WriteUInt16BigEndian(b, _sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), _destinationPort);
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)b.Length);
                _payload.CopyTo(b, 8);
                return b;
            }
            case L4Kind.Icmp:
            {
                var b = new byte[8 + _payload.Length];
                b[0] = _icmpType;
                b[1] = _icmpCode;
                _icmpRest.CopyTo(b, 4);
                _payload.CopyTo(b, 8);
                return b;
            }
            default:
                return _payload;
        }
    }

    /// <summary>Unfolded sum of the IPv6 pseudo-header (source, destination, upper-layer length, next header).</summary>
    public static ulong PseudoHeader(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, int l4Length)
    {
        ulong sum = 0;
        for (var i = 0; i < 16; i += 2)
            sum += (ulong)((source[i] << 8) | source[i + 1]) + (ulong)((destination[i] << 8) | destination[i + 1]);
        return sum + (ulong)(l4Length >> 16) + (ulong)(l4Length & 0xFFFF) + protocol;
    }

    private static void Mac(Span<byte> destination, MacAddress mac)
    {
        for (var i = 0; i < 6; i++) destination[i] = (byte)(mac.Value >> (40 - 8 * i));
    }
}
