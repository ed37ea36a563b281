using System.Buffers.Binary;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>NAT is a router hop, and a router answers a datagram too large for the next link with ICMP
/// fragmentation-needed (type 3, code 4, next-hop MTU) when DF is set. Built in place, in the received frame's
/// buffer: the original IP header and the first 8 bytes of its payload are quoted as the client sent them (to
/// the VIP), the source is our client-side address (the VIP when the interface has none), TOS internetwork
/// control and TTL 64 as routers send them. Without DF there is nothing to ask for, and we do not fragment: the
/// frame is dropped. Either way it counts as <c>mtu_exceeded</c>; an answer sent also counts in <c>icmp_sent</c>.
/// At most one answer per source per <see cref="IcmpRateLimit.IntervalMs"/> (<c>icmp_rate_limited</c> counts the
/// rest); and none when the answer would not fit in the received frame's buffer (a backend MTU below the answer's
/// 36 + header bytes, with IP options): the frame is only dropped.</summary>
public static class FragmentationNeeded
{
    public static Verdict Answer(ref ParsedPacket packet, bool dontFragment, int mtu, ServiceSnapshot service, WorkerState worker)
    {
        var c = worker.Counters;
        c.Drop(DropReason.MtuExceeded);
        if (!dontFragment) return Verdict.Drop;
        var frame = packet.Frame;
        var quoteLength = packet.IpHeaderLength + 8;
        var total = Ipv4Packet.MinimumHeaderLength + IcmpMessage.HeaderLength + quoteLength;
        if (EthernetFrame.HeaderLength + total > frame.Length || packet.IpOffset + quoteLength > frame.Length) return Verdict.Drop;
        var client = BinaryPrimitives.ReadUInt32BigEndian(frame[(packet.IpOffset + 12)..]);
        if (!worker.IcmpErrors.TryAdmit(client, packet.NowMs))
        {
            c.IcmpRateLimited++;
            return Verdict.Drop;
        }
        Span<byte> quote = stackalloc byte[60 + 8];
        frame.Slice(packet.IpOffset, quoteLength).CopyTo(quote);
        var clientHop = MacAddress.Read(frame[6..]);
        var source = worker.Interfaces.Address(service.IngressInterface);
        if (source == 0) source = service.Vip;

        clientHop.Write(frame);
        worker.Interfaces.Mac(service.IngressInterface).Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Ipv4);
        var ip = frame.Slice(EthernetFrame.HeaderLength, total);
        ip.Clear();
        ip[0] = 0x45;
        ip[1] = 0xC0; // internetwork control, as routers send ICMP errors
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)total);
        ip[8] = 64;
        ip[9] = IpProtocols.Icmp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], client);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..Ipv4Packet.MinimumHeaderLength]));
        var icmp = ip[Ipv4Packet.MinimumHeaderLength..];
        icmp[0] = 3;
        icmp[1] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)mtu);
        quote[..quoteLength].CopyTo(icmp[IcmpMessage.HeaderLength..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));

        ref var meta = ref packet.Meta;
        meta.TransmitLength = EthernetFrame.HeaderLength + total;
        meta.Vnet = default;
        meta.ChecksumNotReady = false;
        meta.EgressInterface = service.IngressInterface;
        c.IcmpSent++;
        return Verdict.Transmit;
    }
}
