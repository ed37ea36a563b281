using System.Buffers.Binary;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>NAT66 is a router hop, and an IPv6 router never fragments: a packet too large for the next link is
/// answered with ICMPv6 Packet Too Big (type 2, code 0, the next link's MTU; RFC 4443 3.2), whatever the sender
/// asked. <see cref="FragmentationNeeded"/>'s IPv4 rules otherwise, rule for rule:
/// - built in place, in the received frame's buffer: the packet is quoted as the client sent it (to the VIP), from
///   its IPv6 header on, as much of it as keeps the answer within the IPv6 minimum MTU (1280 bytes) and within the
///   received frame's buffer;
/// - the source is the VIP the packet was sent to: an interface's own IPv6 address may be link-local only and not
///   reach a remote client, the VIP does (and a client's filter expects its path's errors from it); traffic class
///   CS6 and hop limit 64 as routers send their errors; the ICMPv6 checksum covers the pseudo-header;
/// - it counts as <c>mtu_exceeded</c>, an answer sent also as <c>icmp_sent</c>; at most one answer per source per
///   <see cref="IcmpRateLimit.IntervalMs"/> (<c>icmp_rate_limited</c> counts the rest), the packet dropped either
///   way; the MTU said is the backend side's, at least 1280 being the operator's business (IPv6 requires it).</summary>
public static class PacketTooBig
{
    public const byte Type = 2;
    /// <summary>The IPv6 minimum link MTU (RFC 8200 5): no error may be larger.</summary>
    public const int MinimumMtu = 1280;
    private const byte TrafficClass = 0xC0;
    private const int HopLimit = 64;

    public static Verdict Answer(ref ParsedPacket6 packet, int mtu, ServiceSnapshot service, WorkerState worker)
    {
        var c = worker.Counters;
        c.Drop(DropReason.MtuExceeded);
        var frame = packet.Frame;
        var ipOffset = packet.IpOffset;
        var client = BinaryPrimitives.ReadUInt128BigEndian(frame[(ipOffset + NatRewriter6.SourceOffset)..]);
        var vip = BinaryPrimitives.ReadUInt128BigEndian(frame[(ipOffset + NatRewriter6.DestinationOffset)..]);
        if (!worker.IcmpErrors.TryAdmit(client, packet.NowMs))
        {
            c.IcmpRateLimited++;
            return Verdict.Drop;
        }
        const int headers = Ipv6Packet.HeaderLength + Icmpv6Quote.HeaderLength;
        var quoteLength = Math.Min(Math.Min(packet.DatagramEnd, frame.Length) - ipOffset, MinimumMtu - headers);
        quoteLength = Math.Min(quoteLength, frame.Length - EthernetFrame.HeaderLength - headers);
        if (quoteLength < Ipv6Packet.HeaderLength) return Verdict.Drop;

        // The quote moves back by the new headers' length (overlapping: CopyTo moves as memmove does) before they are written.
        var ip = frame[EthernetFrame.HeaderLength..];
        frame.Slice(ipOffset, quoteLength).CopyTo(ip[headers..]);
        var clientHop = MacAddress.Read(frame[6..]);
        clientHop.Write(frame);
        worker.Interfaces.Mac(service.IngressInterface).Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Ipv6);

        var icmpLength = Icmpv6Quote.HeaderLength + quoteLength;
        ip[..headers].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(ip, 6u << 28 | (uint)TrafficClass << 20);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)icmpLength);
        ip[6] = IpProtocols.Icmpv6;
        ip[7] = HopLimit;
        BinaryPrimitives.WriteUInt128BigEndian(ip[NatRewriter6.SourceOffset..], vip);
        BinaryPrimitives.WriteUInt128BigEndian(ip[NatRewriter6.DestinationOffset..], client);
        var icmp = ip.Slice(Ipv6Packet.HeaderLength, icmpLength);
        icmp[0] = Type;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], (uint)mtu);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp, Checksum.PseudoHeaderSum(vip, client, IpProtocols.Icmpv6, icmpLength)));

        ref var meta = ref packet.Meta;
        meta.TransmitLength = EthernetFrame.HeaderLength + Ipv6Packet.HeaderLength + icmpLength;
        meta.Vnet = default;
        meta.ChecksumNotReady = false;
        meta.EgressInterface = service.IngressInterface;
        c.IcmpSent++;
        return Verdict.Transmit;
    }
}
