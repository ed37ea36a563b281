using System.Buffers.Binary;
using LoadBalancer.Core.Flows;

namespace LoadBalancer.Core.Packets;

/// <summary>The packet an ICMPv6 error quotes (RFC 4443: as much of the offending packet as fits in 1280 bytes):
/// its IPv6 header and the first 4 bytes of its TCP/UDP header, enough for the flow. Only a quote whose upper
/// layer follows the fixed header directly is read: an error about a packet with extension headers names no flow
/// we can match, and is left to the kernel like any message we do not read.</summary>
public readonly ref struct Icmpv6Quote
{
    /// <summary>Type, code, checksum and the 4-byte field (unused, MTU or pointer) before the quote.</summary>
    public const int HeaderLength = 8;

    public const byte DestinationUnreachable = 1;
    public const byte PacketTooBig = 2;
    public const byte TimeExceeded = 3;
    public const byte ParameterProblem = 4;

    /// <summary>The flow as the quoted packet carried it (from the VIP, for an error about a reply).</summary>
    public readonly FlowKey6 Flow;

    private Icmpv6Quote(FlowKey6 flow) => Flow = flow;

    /// <summary>The flow turned around: as the client sends it.</summary>
    public FlowKey6 Reversed => new(Flow.Protocol, Flow.DestinationAddress, Flow.SourceAddress, Flow.DestinationPort, Flow.SourcePort);

    /// <summary>Error messages are types 0-127 (RFC 4443 2.1); of those, the four defined ones quote a packet.</summary>
    public static bool IsError(byte type) => type is DestinationUnreachable or PacketTooBig or TimeExceeded or ParameterProblem;

    /// <summary>False when the quote is shorter than an IPv6 header and 4 bytes of ports, or quotes neither TCP nor UDP
    /// directly after its fixed header.</summary>
    public static bool TryRead(ReadOnlySpan<byte> icmp, out Icmpv6Quote quote)
    {
        quote = default;
        if (icmp.Length < HeaderLength + Ipv6Packet.HeaderLength + 4) return false;
        var inner = icmp[HeaderLength..];
        if ((inner[0] >> 4) != 6) return false;
        var protocol = inner[6];
        if (protocol is not (IpProtocols.Tcp or IpProtocols.Udp)) return false;
        quote = new Icmpv6Quote(new FlowKey6(protocol, BinaryPrimitives.ReadUInt128BigEndian(inner[8..]), BinaryPrimitives.ReadUInt128BigEndian(inner[24..]),
            BinaryPrimitives.ReadUInt16BigEndian(inner[40..]), BinaryPrimitives.ReadUInt16BigEndian(inner[42..])));
        return true;
    }
}
