using System.Buffers.Binary;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

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
