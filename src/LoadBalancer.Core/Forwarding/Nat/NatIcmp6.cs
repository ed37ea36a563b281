using System.Buffers.Binary;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>NAT66 for ICMPv6 errors (destination unreachable, packet too big, time exceeded, parameter problem) about
/// a session, in either direction: <see cref="NatIcmp"/>'s rules for IPv6. The quoted packet is the packet as it
/// travelled on the far side of the balancer, so its address and port are translated back (its TCP/UDP checksum
/// incrementally, when the quote reaches it; IPv6 has no header checksum); the outer address that stood for the
/// session is translated too; the ICMPv6 checksum, which covers a pseudo-header of the outer addresses, is recomputed
/// over the message after both. Only quotes whose upper layer follows the fixed header are read
/// (<see cref="Icmpv6Quote"/>), so the quoted ports sit right after its 40 bytes.</summary>
public static class NatIcmp6
{
    /// <summary>Rewrites the quoted packet's <paramref name="side"/> to <paramref name="address"/>:<paramref name="port"/>
    /// and, when <paramref name="outerAddress"/> is given, the outer header's opposite side to it; then recomputes the
    /// ICMPv6 checksum. <paramref name="icmpOffset"/> is where the ICMPv6 message starts, <paramref name="end"/> where the
    /// datagram ends.</summary>
    public static void Translate(Span<byte> frame, int ipOffset, int icmpOffset, int end, QuotedSide side, UInt128 address, ushort port, UInt128? outerAddress)
    {
        var quotedSource = side == QuotedSide.Source;
        var quoteIp = icmpOffset + Icmpv6Quote.HeaderLength;
        var quoteL4 = quoteIp + Ipv6Packet.HeaderLength;
        var protocol = frame[quoteIp + 6];
        var portAt = quoteL4 + (quotedSource ? 0 : 2);
        var oldAddress = NatRewriter6.SetAddress(frame[quoteIp..], quotedSource ? NatRewriter6.SourceOffset : NatRewriter6.DestinationOffset, address);
        var oldPort = BinaryPrimitives.ReadUInt16BigEndian(frame[portAt..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[portAt..], port);
        var l4ChecksumAt = quoteL4 + (protocol == IpProtocols.Tcp ? TcpSegment.ChecksumOffset : UdpDatagram.ChecksumOffset);
        if (l4ChecksumAt + 2 <= end)
            NatRewriter6.UpdateL4Checksum(frame[l4ChecksumAt..], protocol, oldAddress, address, oldPort, port);

        var ip = frame[ipOffset..];
        if (outerAddress is { } outer)
            NatRewriter6.SetAddress(ip, quotedSource ? NatRewriter6.DestinationOffset : NatRewriter6.SourceOffset, outer);

        var icmp = frame[icmpOffset..end];
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        var pseudo = Checksum.PseudoHeaderSum(BinaryPrimitives.ReadUInt128BigEndian(ip[NatRewriter6.SourceOffset..]),
            BinaryPrimitives.ReadUInt128BigEndian(ip[NatRewriter6.DestinationOffset..]), IpProtocols.Icmpv6, icmp.Length);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp, pseudo));
    }
}
