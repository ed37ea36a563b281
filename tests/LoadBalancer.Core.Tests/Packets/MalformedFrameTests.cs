using System.Buffers.Binary;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Packets;

/// <summary>Every prefix of every kind of valid frame, and frames whose length fields disagree with their
/// size, must give the right <see cref="DropReason"/> and never throw, in the views and in the packet path.</summary>
public class MalformedFrameTests
{
    public static TheoryData<string> FrameKinds => new()
    {
        "tcp", "tcp-options", "tcp-vlan", "ip-options", "udp", "udp-vlan", "icmp", "arp", "arp-vlan", "ipv6",
    };

    private static byte[] Frame(string kind) => kind switch
    {
        "tcp" => Fixtures.WebTcp().Build(),
        "tcp-options" => Fixtures.WebTcp().Flags(TcpFlags.Syn).TcpOptions(2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0).Build(),
        "tcp-vlan" => Fixtures.WebTcp().Vlan(42).Build(),
        "ip-options" => Fixtures.WebTcp().IpOptions(0x94, 4, 0, 0, 1, 1, 1, 1).Build(),
        "udp" => FrameBuilder.Udp(Fixtures.ClientIp, 5353, Fixtures.WebVip, Fixtures.DnsPort).Payload("query").Build(),
        "udp-vlan" => FrameBuilder.Udp(Fixtures.ClientIp, 5353, Fixtures.WebVip, Fixtures.DnsPort).Vlan(7).Payload("query").Build(),
        "icmp" => FrameBuilder.Icmp(Fixtures.ClientIp, Fixtures.WebVip).IcmpHeader(8, 0, 1, 1).Payload("ping").Build(),
        "arp" => FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, Fixtures.WebVip),
        "arp-vlan" => FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, Fixtures.WebVip, vlanId: 9),
        "ipv6" => FrameBuilder.Ipv6(payloadLength: 12),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Parses as far as the views go, the way the data path does; returns the first refusal.</summary>
    private static DropReason ParseAll(Span<byte> frame)
    {
        var r = EthernetFrame.TryParse(frame, out var eth);
        if (r != DropReason.None) return r;
        switch (eth.EtherType)
        {
            case EtherTypes.Arp:
                return ArpPacket.TryParse(eth.Payload, out _);
            case EtherTypes.Ipv4:
                r = Ipv4Packet.TryParse(eth.Payload, out var ip);
                if (r != DropReason.None) return r;
                return ip.Protocol switch
                {
                    IpProtocols.Tcp => TcpSegment.TryParse(ip.Payload, out _),
                    IpProtocols.Udp => UdpDatagram.TryParse(ip.Payload, out _),
                    IpProtocols.Icmp => IcmpMessage.TryParse(ip.Payload, out _),
                    _ => DropReason.None,
                };
            default:
                return DropReason.None;
        }
    }

    private static DropReason ExpectedForPrefix(byte[] full, int length)
    {
        if (length < 14) return DropReason.EthernetTruncated;
        var type = BinaryPrimitives.ReadUInt16BigEndian(full.AsSpan(12));
        var l3 = 14;
        if (type == EtherTypes.Vlan)
        {
            if (length < 18) return DropReason.VlanTruncated;
            type = BinaryPrimitives.ReadUInt16BigEndian(full.AsSpan(16));
            l3 = 18;
        }
        var available = length - l3;
        return type switch
        {
            EtherTypes.Arp => available < 28 ? DropReason.ArpTruncated : DropReason.None,
            // The IPv4 total length bounds the datagram, so any cut inside it is an IPv4 truncation.
            EtherTypes.Ipv4 => available < BinaryPrimitives.ReadUInt16BigEndian(full.AsSpan(l3 + 2)) ? DropReason.Ipv4Truncated : DropReason.None,
            _ => DropReason.None,
        };
    }

    [Theory]
    [MemberData(nameof(FrameKinds))]
    public void TryParse_EveryPrefixOfValidFrame_ReturnsBoundaryReason(string kind)
    {
        var full = Frame(kind);
        for (var length = 0; length <= full.Length; length++)
        {
            var prefix = full[..length];
            var expected = ExpectedForPrefix(full, length);
            var actual = ParseAll(prefix);
            Assert.True(expected == actual, $"{kind} cut to {length} of {full.Length} bytes: expected {expected}, got {actual}");
        }
    }

    [Theory]
    [MemberData(nameof(FrameKinds))]
    public void Process_EveryPrefixOfValidFrame_NeverThrowsAndDropsWithParseReason(string kind)
    {
        var engine = new TestEngine(Fixtures.Config());
        var full = Frame(kind);
        for (var length = 0; length <= full.Length; length++)
        {
            var prefix = full[..length];
            var meta = new FrameMeta();
            var verdict = engine.Process(prefix, ref meta);
            var expected = ExpectedForPrefix(full, length);
            if (expected is DropReason.ArpTruncated || (expected == DropReason.None && BinaryPrimitives.ReadUInt16BigEndian(full.AsSpan(12)) == EtherTypes.Ipv6 && length >= 14))
                Assert.Equal(Verdict.Pass, verdict); // not IPv4: left to the kernel
            else if (expected != DropReason.None)
                Assert.True(verdict == Verdict.Drop, $"{kind} cut to {length}: {verdict}");
        }
        var expectedDrops = new long[(int)DropReason.Count];
        for (var length = 0; length < full.Length; length++)
        {
            var reason = ExpectedForPrefix(full, length);
            if (reason is not (DropReason.None or DropReason.ArpTruncated))
                expectedDrops[(int)reason]++;
        }
        Assert.Equal(expectedDrops, engine.Counters.Drops);
    }

    public static TheoryData<string> Ipv4Kinds => new() { "tcp", "tcp-options", "tcp-vlan", "ip-options", "udp", "udp-vlan", "icmp" };

    /// <summary>The datagram cut short with its IPv4 total length agreeing with the
    /// cut, so the refusal comes from the transport header: the L4 boundaries.</summary>
    [Theory]
    [MemberData(nameof(Ipv4Kinds))]
    public void TryParse_TransportCutWithConsistentTotalLength_ReturnsTransportReason(string kind)
    {
        var full = Frame(kind);
        EthernetFrame.TryParse(full, out var eth);
        Ipv4Packet.TryParse(eth.Payload, out var ip);
        var l3 = eth.PayloadOffset;
        var ihl = ip.HeaderLength;
        var protocol = ip.Protocol;
        var l4Length = ip.Payload.Length;
        var tcpHeader = protocol == IpProtocols.Tcp ? (full[l3 + ihl + 12] >> 4) * 4 : 0;
        var udpLength = protocol == IpProtocols.Udp ? BinaryPrimitives.ReadUInt16BigEndian(full.AsSpan(l3 + ihl + 4)) : 0;

        for (var k = 0; k <= l4Length; k++)
        {
            var frame = full[..(l3 + ihl + k)];
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 2), (ushort)(ihl + k));
            DropReason expected = protocol switch
            {
                IpProtocols.Tcp => k < 20 || k < tcpHeader ? DropReason.TcpTruncated : DropReason.None,
                IpProtocols.Udp => k < 8 ? DropReason.UdpTruncated : k < udpLength ? DropReason.UdpBadLength : DropReason.None,
                IpProtocols.Icmp => k < 8 ? DropReason.IcmpTruncated : DropReason.None,
                _ => DropReason.None,
            };
            var actual = ParseAll(frame);
            Assert.True(expected == actual, $"{kind} with {k} of {l4Length} L4 bytes: expected {expected}, got {actual}");
        }
    }

    [Theory]
    [MemberData(nameof(Ipv4Kinds))]
    public void Process_TransportCutWithConsistentTotalLength_DropsForVipOrPasses(string kind)
    {
        var engine = new TestEngine(Fixtures.Config());
        var full = Frame(kind);
        EthernetFrame.TryParse(full, out var eth);
        Ipv4Packet.TryParse(eth.Payload, out var ip);
        var l3 = eth.PayloadOffset;
        var ihl = ip.HeaderLength;
        var protocol = ip.Protocol;
        var l4Length = ip.Payload.Length;

        for (var k = 0; k <= l4Length; k++)
        {
            var frame = full[..(l3 + ihl + k)];
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 2), (ushort)(ihl + k));
            var expected = ParseAll(frame);
            var meta = new FrameMeta();

            var verdict = engine.Process(frame, ref meta);

            // ICMP to a VIP: a cut header is dropped like TCP's and UDP's; an echo is not ours.
            if (protocol == IpProtocols.Icmp) Assert.Equal(k < 8 ? Verdict.Drop : Verdict.Pass, verdict);
            else if (expected != DropReason.None) Assert.Equal(Verdict.Drop, verdict);
            else Assert.Equal(Verdict.Transmit, verdict);
        }
    }

    [Fact]
    public void Process_RandomBytes_NeverThrows()
    {
        var engine = new TestEngine(Fixtures.Config());
        var random = new Random(1071);
        var buffer = new byte[200];
        for (var i = 0; i < 20_000; i++)
        {
            var length = random.Next(buffer.Length + 1);
            var frame = buffer.AsSpan(0, length);
            random.NextBytes(frame);
            // Half the time make it look like IPv4 (optionally tagged) to the VIPs, so parsing goes deep.
            if (length >= 34 && (i & 1) == 0)
            {
                var l3 = (i & 2) == 0 ? 14 : 18;
                if (l3 == 18) BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Vlan);
                BinaryPrimitives.WriteUInt16BigEndian(frame[(l3 - 2)..], EtherTypes.Ipv4);
                if (length >= l3 + 20)
                {
                    frame[l3] = (byte)(0x40 | (frame[l3] & 0x0F));
                    frame[l3 + 6] &= 0x80 | 0x40; // mostly unfragmented
                    frame[l3 + 7] = 0;
                    frame[l3 + 9] = (i & 4) == 0 ? IpProtocols.Tcp : IpProtocols.Udp;
                    BinaryPrimitives.WriteUInt32BigEndian(frame[(l3 + 16)..], FrameBuilder.Ip((i & 8) == 0 ? Fixtures.WebVip : Fixtures.PoolVip));
                }
            }
            var meta = new FrameMeta
            {
                ChecksumNotReady = (i & 16) != 0,
                Vnet = (i & 32) != 0
                    ? new VnetHeader { Flags = VnetHeader.FlagNeedsChecksum, ChecksumStart = (ushort)random.Next(256), ChecksumOffset = (ushort)random.Next(32) }
                    : default,
            };

            var verdict = engine.Process(frame, ref meta);

            Assert.True(Enum.IsDefined(verdict));
        }
        Assert.Equal(20_000, engine.Counters.RxFrames);
        Assert.Equal(20_000, engine.Counters.Passed + engine.Counters.Drops.Sum() + engine.Counters.ServicePackets.Sum());
    }

    [Fact]
    public void Process_BitFlippedValidFrames_NeverThrow()
    {
        var engine = new TestEngine(Fixtures.Config());
        var random = new Random(1624);
        var cases = Fixtures.Cases();
        for (var i = 0; i < 20_000; i++)
        {
            var frame = (byte[])cases[i % cases.Count].Input.Clone();
            if (frame.Length == 0) continue;
            for (var flips = random.Next(1, 4); flips > 0; flips--)
                frame[random.Next(frame.Length)] ^= (byte)(1 << random.Next(8));
            var meta = cases[i % cases.Count].Meta;

            var verdict = engine.Process(frame, ref meta);

            Assert.True(Enum.IsDefined(verdict));
        }
    }
}
