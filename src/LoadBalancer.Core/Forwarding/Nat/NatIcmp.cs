using System.Buffers.Binary;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

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

/// <summary>Which side of the quoted datagram a translation rewrites: its source (the error came from the client
/// side about a reply we sent as VIP:port) or its destination (the error came from the backend side about a
/// packet we sent to a backend). The outer header's opposite side is the one that stood for the session.</summary>
public enum QuotedSide : byte
{
    Source,
    Destination,
}

/// <summary>NAT for ICMP errors (destination unreachable, time exceeded, parameter problem) about a session,
/// in either direction. Rules: the quoted datagram is the packet as it travelled on the far side of the
/// balancer, so its address and port are translated back (with its IP header checksum and, when the quote
/// reaches it, its TCP/UDP checksum, incrementally); the outer address that stood for the session is
/// translated too; the ICMP checksum is recomputed over the message, which is short.</summary>
public static class NatIcmp
{
    public const int MinimumQuote = 8;

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

    /// <summary>Rewrites the quoted datagram's <paramref name="side"/> to <paramref name="address"/>:<paramref name="port"/>
    /// and, when <paramref name="outerAddress"/> is given, the outer header's opposite side to it; then recomputes
    /// the ICMP checksum.</summary>
    public static void Translate(Span<byte> frame, in QuotedDatagram q, QuotedSide side, uint address, ushort port, uint? outerAddress)
    {
        var quotedSource = side == QuotedSide.Source;
        // The quoted datagram: address (+ its header checksum) and port (+ its L4 checksum when quoted).
        var portAt = q.L4Offset + (quotedSource ? 0 : 2);
        var oldAddress = NatRewriter.SetAddress(frame[q.IpOffset..], quotedSource ? NatRewriter.SourceOffset : NatRewriter.DestinationOffset, address);
        var oldPort = BinaryPrimitives.ReadUInt16BigEndian(frame[portAt..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[portAt..], port);
        var l4ChecksumAt = q.L4Offset + (q.Protocol == IpProtocols.Tcp ? TcpSegment.ChecksumOffset : UdpDatagram.ChecksumOffset);
        if (l4ChecksumAt + 2 <= q.End)
            NatRewriter.UpdateL4Checksum(frame[l4ChecksumAt..], q.Protocol, oldAddress, address, oldPort, port);

        if (outerAddress is { } outer)
            NatRewriter.SetAddress(frame[q.OuterIpOffset..], quotedSource ? NatRewriter.DestinationOffset : NatRewriter.SourceOffset, outer);

        var icmp = frame[q.IcmpOffset..q.End];
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
    }
}
