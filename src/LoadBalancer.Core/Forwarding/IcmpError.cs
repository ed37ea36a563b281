using System.Buffers.Binary;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>An ICMP error and the datagram it quotes: the quote's IPv4 header (the original's, possibly longer
/// than what is quoted) and the first bytes of its transport header. Offsets are absolute in the frame;
/// <paramref name="Quoted"/> is the quoted datagram's 5-tuple as it travelled.</summary>
public readonly record struct QuotedDatagram(int OuterIpOffset, int IcmpOffset, int IpOffset, int L4Offset, int End, FlowKey Quoted)
{
    public byte Protocol => Quoted.Protocol;

    /// <summary>The flow the quoted datagram belongs to, turned around: the error quotes a packet that went the
    /// other way.</summary>
    public FlowKey Reversed => new(Quoted.Protocol, Quoted.DestinationAddress, Quoted.SourceAddress, Quoted.DestinationPort, Quoted.SourcePort);
}

/// <summary>Reading ICMP errors (destination unreachable, time exceeded, parameter problem): every mode forwards
/// the errors about its flows to where the flow goes (DR: the backend; CLUSTERIP: the owning node; NAT: translated),
/// found from the datagram the error quotes.</summary>
public static class IcmpError
{
    /// <summary>The quote must reach the ports.</summary>
    public const int MinimumQuote = 8;

    /// <summary>Errors that name a flow. Redirects (type 5) are errors too, but are about routes, not flows: the
    /// kernel's.</summary>
    public static bool NamesAFlow(in IcmpMessage icmp) => icmp.IsError && icmp.Type != 5;

    /// <summary>Whether the frame says its checksum is the NIC's or the kernel's to finish (partial, or GSO). No
    /// sender leaves an ICMP checksum partial (the kernel computes it in full), and offsets meant for TCP or UDP
    /// would point at the wrong bytes of an ICMP message: such a frame is refused, not forwarded or translated.</summary>
    public static bool HasChecksumOffload(in IO.FrameMeta meta) => meta.ChecksumNotReady || meta.Vnet.NeedsChecksum || meta.Vnet.IsGso;

    /// <summary>Reads the datagram quoted by the ICMP error at <paramref name="icmpOffset"/>; false if it is
    /// not an IPv4 TCP/UDP datagram with at least its ports quoted.</summary>
    public static bool TryReadQuote(ReadOnlySpan<byte> frame, int outerIpOffset, int icmpOffset, int end, out QuotedDatagram quote)
    {
        quote = default;
        var ip = icmpOffset + IcmpMessage.HeaderLength;
        if (end - ip < Ipv4Packet.MinimumHeaderLength) return false;
        if (frame[ip] >> 4 != 4) return false;
        var ihl = (frame[ip] & 0x0F) * 4;
        if (ihl < Ipv4Packet.MinimumHeaderLength) return false;
        var l4 = ip + ihl;
        var protocol = frame[ip + 9];
        if (protocol is not (IpProtocols.Tcp or IpProtocols.Udp) || end - l4 < MinimumQuote) return false;
        quote = new QuotedDatagram(outerIpOffset, icmpOffset, ip, l4, end, new FlowKey(protocol,
            BinaryPrimitives.ReadUInt32BigEndian(frame[(ip + 12)..]), BinaryPrimitives.ReadUInt32BigEndian(frame[(ip + 16)..]),
            BinaryPrimitives.ReadUInt16BigEndian(frame[l4..]), BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + 2)..])));
        return true;
    }
}
