using System.Net;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.DirectRouting;

/// <summary>DR6 through the real engine: an IPv6 service beside the IPv4 fixtures, on the same interface.</summary>
public class DirectRouting6PipelineTests
{
    private const string Vip6 = "2001:db8::100";
    private const string Client6 = "2001:db8:ffff::10";
    private static MacAddress Mac6(int i) => new(0x02_00_00_00_06_00UL + (ulong)i);

    private static BalancerConfig Config(int backends = 4, Func<int, int>? weight = null)
    {
        var web6 = Fixtures.Service("web6", Vip6, 80, TransportProtocol.Tcp,
            Enumerable.Range(1, backends).Select(i => Fixtures.Backend($"web6-{i}", $"2001:db8:1::{i}", Mac6(i), weight?.Invoke(i) ?? 100)).ToArray());
        var dns6 = Fixtures.Service("dns6", Vip6, 53, TransportProtocol.Udp, Fixtures.Backend("dns6-1", "2001:db8:1::53", Mac6(53)));
        var config = Fixtures.Config();
        return config with { Services = [.. config.Services, web6, dns6] };
    }

    private static Ipv6FrameBuilder Web6(ushort clientPort = 40000, string client = Client6) =>
        Ipv6FrameBuilder.Tcp(client, clientPort, Vip6, 80).Payload("GET / HTTP/1.0\r\n\r\n");

    [Fact]
    public void Send_TcpToIpv6Vip_RewritesOnlyTheMacs()
    {
        var engine = new TestEngine(Config());
        var input = Web6().Flags(TcpFlags.Syn).Build();

        var result = engine.Send(input);

        Assert.Equal(Verdict.Transmit, result.Verdict);
        Assert.Equal(input[12..], result.Output![12..]);
        Assert.Equal(Fixtures.InterfaceMac, MacAddress.Read(result.Output.AsSpan(6)));
        Assert.StartsWith("web6-", engine.BackendOf(result.Output, "web6"));
    }

    [Fact]
    public void Send_ExtensionHeaders_AreSteppedOverAndKept()
    {
        var engine = new TestEngine(Config());
        var input = Web6().Extension(Ipv6Packet.HopByHop).Extension(Ipv6Packet.DestinationOptions, 1).Extension(Ipv6Packet.Routing).Build();

        var result = engine.Send(input);

        Assert.Equal(Verdict.Transmit, result.Verdict);
        Assert.Equal(input[12..], result.Output![12..]);
    }

    [Fact]
    public void Send_UdpToIpv6Vip_GoesToItsService()
    {
        var engine = new TestEngine(Config());

        var result = engine.Send(Ipv6FrameBuilder.Udp(Client6, 5353, Vip6, 53).Payload("q").Build());

        Assert.Equal(Verdict.Transmit, result.Verdict);
        Assert.Equal("dns6-1", engine.BackendOf(result.Output!, "dns6"));
    }

    [Fact]
    public void Send_SameFlow_StaysOnItsBackend_AndFlowsSpreadOverAll()
    {
        var engine = new TestEngine(Config());
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 1000; i++)
        {
            var first = engine.BackendOf(engine.Send(Web6((ushort)(20000 + i)).Flags(TcpFlags.Syn).Build()).Output!, "web6");
            var again = engine.BackendOf(engine.Send(Web6((ushort)(20000 + i)).Build()).Output!, "web6");
            Assert.Equal(first, again);
            counts[first] = counts.GetValueOrDefault(first) + 1;
        }
        Assert.Equal(4, counts.Count);
        Assert.All(counts.Values, n => Assert.InRange(n, 190, 310));
        Assert.True(engine.Processor.Worker.Flows6!.CountLive(engine.Clock.NowMs) >= 1000);
        Assert.Equal(0, engine.Flows.CountLive(engine.Clock.NowMs));
    }

    [Fact]
    public void Send_FlowKeepsItsBackend_WhenAnotherJoins()
    {
        var engine = new TestEngine(Config(backends: 3));
        var before = new string[200];
        for (var i = 0; i < before.Length; i++) before[i] = engine.BackendOf(engine.Send(Web6((ushort)(30000 + i)).Flags(TcpFlags.Syn).Build()).Output!, "web6");

        engine.Reload(Config(backends: 4));

        for (var i = 0; i < before.Length; i++)
            Assert.Equal(before[i], engine.BackendOf(engine.Send(Web6((ushort)(30000 + i)).Build()).Output!, "web6"));
    }

    [Fact]
    public void Send_PartialChecksum_IsCompleted()
    {
        var engine = new TestEngine(Config());
        var expected = Web6().Build();

        var result = engine.Send(Web6().L4Checksum(ChecksumMode.Partial).Build(), new FrameMeta { ChecksumNotReady = true });

        Assert.Equal(Verdict.Transmit, result.Verdict);
        Assert.Equal(expected[12..], result.Output![12..]);
        Assert.False(result.OutputMeta.ChecksumNotReady);
    }

    [Fact]
    public void Send_PacketTooBigAboutAFlow_GoesToThatFlowsBackend()
    {
        var engine = new TestEngine(Config());
        var backends = new HashSet<string>();
        for (var i = 0; i < 40; i++)
        {
            var port = (ushort)(41000 + i);
            var flowBackend = engine.BackendOf(engine.Send(Web6(port).Flags(TcpFlags.Syn).Build()).Output!, "web6");
            // A router on the reply path quotes the backend's reply (VIP -> client).
            var reply = Ipv6FrameBuilder.Tcp(Vip6, 80, Client6, port).Payload(new byte[64]).Build();
            var quote = reply.AsSpan(14).ToArray();
            var error = Ipv6FrameBuilder.Icmpv6("2001:db8:eeee::1", Vip6, Icmpv6Quote.PacketTooBig).IcmpRest(1280).Payload(quote).Build();

            var result = engine.Send(error);

            Assert.Equal(Verdict.Transmit, result.Verdict);
            Assert.Equal(flowBackend, engine.BackendOf(result.Output!, "web6"));
            Assert.Equal(error[12..], result.Output![12..]);
            backends.Add(flowBackend);
        }
        Assert.True(backends.Count > 1);
    }

    [Theory]
    [InlineData(135)] // neighbour solicitation (a client's reachability probe, unicast to the VIP)
    [InlineData(136)]
    [InlineData(128)] // echo request
    public void Send_Icmpv6InformationalToVip_IsTheKernels(byte type)
    {
        var engine = new TestEngine(Config());

        var result = engine.Send(Ipv6FrameBuilder.Icmpv6(Client6, Vip6, type).HopLimit(255).Payload(new byte[16]).Build());

        Assert.Equal(Verdict.Pass, result.Verdict);
    }

    public static TheoryData<string, byte[], DropReason> MalformedToVip() => new()
    {
        { "fragment", Web6().Fragment(0, more: true).Build(), DropReason.Ipv6Fragment },
        { "later fragment", Web6().Fragment(1232, more: false).Build(), DropReason.Ipv6Fragment },
        { "payload length beyond the frame", Web6().PayloadLength(1400).Build(), DropReason.Ipv6Truncated },
        { "payload length 0", Web6().PayloadLength(0).Build(), DropReason.Ipv6BadPayloadLength },
        { "nine extension headers", Chain(9), DropReason.Ipv6TooManyExtensionHeaders },
        { "hop-by-hop not first", Web6().Extension(Ipv6Packet.DestinationOptions).Extension(Ipv6Packet.HopByHop).Build(), DropReason.Ipv6BadExtensionHeader },
        { "unknown next header", Ipv6FrameBuilder.Raw(Client6, Vip6, 253).Payload(new byte[20]).Build(), DropReason.Ipv6UnknownNextHeader },
        { "no next header", Ipv6FrameBuilder.Raw(Client6, Vip6, 59).Payload(new byte[20]).Build(), DropReason.Ipv6UnknownNextHeader },
        { "tcp header cut", Ipv6FrameBuilder.Raw(Client6, Vip6, IpProtocols.Tcp).Payload(new byte[12]).Build(), DropReason.TcpTruncated },
        { "icmpv6 error with a cut quote", Ipv6FrameBuilder.Icmpv6(Client6, Vip6, 1).Payload(new byte[20]).Build(), DropReason.IcmpTruncated },
    };

    private static byte[] Chain(int headers)
    {
        var b = Web6();
        for (var i = 0; i < headers; i++) b.Extension(Ipv6Packet.DestinationOptions);
        return b.Build();
    }

    [Theory]
    [MemberData(nameof(MalformedToVip))]
    public void Send_MalformedToIpv6Vip_IsDroppedAndCounted(string description, byte[] frame, DropReason reason)
    {
        var engine = new TestEngine(Config());

        var result = engine.Send(frame);

        Assert.True(result.Verdict == Verdict.Drop && result.Drop == reason, $"{description}: {result}");
    }

    [Fact]
    public void Send_EightExtensionHeaders_AreStillForwarded()
    {
        var engine = new TestEngine(Config());

        Assert.Equal(Verdict.Transmit, engine.Send(Chain(8)).Verdict);
    }

    [Fact]
    public void Send_MalformedIpv6NotToAVip_IsTheKernels()
    {
        var engine = new TestEngine(Config());

        Assert.Equal(Verdict.Pass, engine.Send(Ipv6FrameBuilder.Tcp(Client6, 1, "2001:db8::200", 80).PayloadLength(0).Build()).Verdict);
        Assert.Equal(Verdict.Pass, engine.Send(Ipv6FrameBuilder.Tcp(Client6, 1, "2001:db8::200", 80).Fragment(0, true).Build()).Verdict);
        Assert.Equal(Verdict.Pass, engine.Send(Ipv6FrameBuilder.Tcp(Client6, 1, Vip6, 8080).Build()).Verdict);
    }

    [Fact]
    public void Send_Ipv4AndIpv6OnOneInterface_BothForwarded()
    {
        var engine = new TestEngine(Config());

        Assert.Equal(Fixtures.WebBackendMac, MacAddress.Read(engine.Send(Fixtures.WebTcp().Build()).Output!));
        Assert.Equal(Verdict.Transmit, engine.Send(Web6().Build()).Verdict);
    }

    [Fact]
    public void Send_Ipv6ToAnIpv4OnlyEngine_IsTheKernels()
    {
        var engine = new TestEngine(Fixtures.Config());

        Assert.Equal(Verdict.Pass, engine.Send(Web6().Build()).Verdict);
        Assert.Null(engine.Processor.Worker.Flows6);
    }

    [Fact]
    public void Topology_Ipv6Vips_AreInTheIngressDropApart()
    {
        var engine = new TestEngine(Config());
        engine.Engine.Start();
        try
        {
            var drop = Assert.Single(engine.Platform.IngressDrops);
            Assert.Contains(Ipv6.Parse(Vip6), drop.Vips6);
            Assert.DoesNotContain(0u, drop.Vips);
            Assert.Equal(IPAddress.Parse(Vip6), Ipv6.ToAddress(drop.Vips6[0]));
        }
        finally
        {
            engine.Engine.Dispose();
        }
    }
}
