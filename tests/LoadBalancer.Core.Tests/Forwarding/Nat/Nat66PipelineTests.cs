using System.Buffers.Binary;
using System.Net;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Nat;

/// <summary>NAT66 through the real engine, two-armed as <see cref="NatPipelineTests"/>: clients on "front", backends
/// on "back".</summary>
public sealed class Nat66PipelineTests
{
    internal static readonly MacAddress FrontMac = Fixtures.NatFrontMac;
    internal static readonly MacAddress BackMac = Fixtures.NatBackMac;
    internal static readonly MacAddress RouterMac = MacAddress.Parse("02:00:00:00:0a:01");
    internal static readonly MacAddress Rs1Mac = MacAddress.Parse("02:00:00:00:04:11");
    internal static readonly MacAddress Rs2Mac = MacAddress.Parse("02:00:00:00:04:12");
    internal const string Vip = "2001:db8::100";
    internal const string Client = "2001:db8:2::2";
    internal const string Rs1 = "2001:db8:4::11";
    internal const string Rs2 = "2001:db8:4::12";
    internal const string BackAddress = "2001:db8:4::1";
    internal const string BackRouter = "2001:db8:4::fe";
    internal const int EthernetLength = 14;
    internal const int Ip6Length = 40;
    internal const int L4 = EthernetLength + Ip6Length;

    private static IReadOnlyList<TestInterface> Interfaces(int backMtu = 1500) =>
    [
        Fixtures.NatInterfaces[0] with { Address6 = Ipv6.ToUInt128(IPAddress.Parse("2001:db8:1::10")) },
        Fixtures.NatInterfaces[1] with { Address6 = Ipv6.ToUInt128(IPAddress.Parse(BackAddress)), Mtu = backMtu },
    ];

    private static BalancerConfig Config(bool pickup = false) => new()
    {
        Services =
        [
            new ServiceConfig
            {
                Name = "web6", Vip = IPAddress.Parse(Vip), Port = 80, Protocol = TransportProtocol.Tcp, Mode = ForwardingMode.Nat,
                Interface = "front", BackendInterface = "back", TcpPickup = pickup,
                Backends =
                [
                    new BackendConfig { Name = "rs1", Address = IPAddress.Parse(Rs1), Mac = Rs1Mac },
                    new BackendConfig { Name = "rs2", Address = IPAddress.Parse(Rs2), Mac = Rs2Mac, Port = 8081 },
                ],
            },
            new ServiceConfig
            {
                Name = "echo6", Vip = IPAddress.Parse(Vip), Port = 5353, Protocol = TransportProtocol.Udp, Mode = ForwardingMode.Nat,
                Interface = "front", BackendInterface = "back",
                Backends = [new BackendConfig { Name = "e1", Address = IPAddress.Parse(Rs1), Mac = Rs1Mac }],
            },
        ],
    };

    internal static TestEngine Engine(bool pickup = false, int backMtu = 1500) => new(Config(pickup), Interfaces(backMtu));

    internal static byte[] ClientTcp(ushort clientPort, TcpFlags flags, byte hopLimit = 64, int payload = 5) =>
        Ipv6FrameBuilder.Tcp(Client, clientPort, Vip, 80).Flags(flags).HopLimit(hopLimit).Macs(FrontMac, RouterMac).Payload(new byte[payload]).Build();

    private static string Source(byte[] frame) => new IPAddress(frame.AsSpan(EthernetLength + 8, 16)).ToString();
    private static string Destination(byte[] frame) => new IPAddress(frame.AsSpan(EthernetLength + 24, 16)).ToString();
    private static ushort Port(byte[] frame, int at) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(at));

    /// <summary>The upper layer's checksum over the IPv6 pseudo-header, by the test kit's own arithmetic.</summary>
    private static void AssertL4ChecksumValid(byte[] frame)
    {
        var length = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(EthernetLength + 4));
        var pseudo = Ipv6FrameBuilder.PseudoHeader(frame.AsSpan(EthernetLength + 8, 16), frame.AsSpan(EthernetLength + 24, 16), frame[EthernetLength + 6], length);
        Assert.Equal(0, ReferenceChecksum.Compute(frame.AsSpan(L4, length), pseudo));
    }

    /// <summary>A SYN through the engine, and where it went: (backend address, backend port, the frame sent).</summary>
    private static (string Backend, ushort Port, byte[] Sent) Open(TestEngine engine, ushort clientPort)
    {
        var r = engine.Send(ClientTcp(clientPort, TcpFlags.Syn));
        Assert.Equal(Verdict.Transmit, r.Verdict);
        return (Destination(r.Output!), Port(r.Output!, L4 + 2), r.Output!);
    }

    internal static byte[] BackendReply(string backend, ushort backendPort, ushort clientPort, TcpFlags flags) =>
        Ipv6FrameBuilder.Tcp(backend, backendPort, Client, clientPort).Flags(flags).Macs(BackMac, backend == Rs1 ? Rs1Mac : Rs2Mac).Build();

    internal static FrameMeta BackSide => new() { IngressInterface = 1 };

    [Fact]
    public void Forward_Syn_RewritesDestinationHopLimitAndMacsWithValidChecksum()
    {
        var engine = Engine();
        var r = engine.Send(ClientTcp(40000, TcpFlags.Syn));

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(1, r.OutputMeta.EgressInterface);
        var sent = (Destination(r.Output!), Port(r.Output!, L4 + 2), MacAddress.Read(r.Output!));
        Assert.True(sent == (Rs1, 80, Rs1Mac) || sent == (Rs2, 8081, Rs2Mac), sent.ToString());
        Assert.Equal(BackMac, MacAddress.Read(r.Output!.AsSpan(6)));
        Assert.Equal(63, r.Output![EthernetLength + 7]);
        Assert.Equal(Client, Source(r.Output!));
        Assert.Equal(40000, Port(r.Output!, L4));
        AssertL4ChecksumValid(r.Output!);
        Assert.Equal(1, engine.Processor.Worker.Sessions6!.Count);
        Assert.Equal(0, engine.Processor.Worker.Sessions.Count);
    }

    [Fact]
    public void Forward_SameFlow_StaysInItsSession()
    {
        var engine = Engine();
        var (backend, port, _) = Open(engine, 40001);

        var again = engine.Send(ClientTcp(40001, TcpFlags.Ack));

        Assert.Equal(Verdict.Transmit, again.Verdict);
        Assert.Equal((backend, port), (Destination(again.Output!), Port(again.Output!, L4 + 2)));
        Assert.Equal(1, engine.Processor.Worker.Sessions6!.Count);
    }

    [Fact]
    public void Reply_InSession_BecomesVipToClientTowardsTheClientHop()
    {
        var engine = Engine();
        var (backend, port, _) = Open(engine, 40002);

        var r = engine.Send(BackendReply(backend, port, 40002, TcpFlags.Syn | TcpFlags.Ack), BackSide);

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(0, r.OutputMeta.EgressInterface);
        Assert.Equal(RouterMac, MacAddress.Read(r.Output!));
        Assert.Equal(FrontMac, MacAddress.Read(r.Output!.AsSpan(6)));
        Assert.Equal(Vip, Source(r.Output!));
        Assert.Equal(80, Port(r.Output!, L4));
        Assert.Equal(Client, Destination(r.Output!));
        Assert.Equal(40002, Port(r.Output!, L4 + 2));
        Assert.Equal(63, r.Output![EthernetLength + 7]);
        AssertL4ChecksumValid(r.Output!);
    }

    [Fact]
    public void Reply_WithoutSession_IsPassedAndCounted_ButNotTheBalancersOwn()
    {
        var engine = Engine();

        Assert.Equal(Verdict.Pass, engine.Send(BackendReply(Rs1, 80, 45000, TcpFlags.Ack), BackSide).Verdict);
        Assert.Equal(1, engine.Counters.NatRepliesWithoutSession);

        var own = Ipv6FrameBuilder.Tcp(Rs1, 80, BackAddress, 45000).Flags(TcpFlags.Ack).Macs(BackMac, Rs1Mac).Build();
        Assert.Equal(Verdict.Pass, engine.Send(own, BackSide).Verdict);
        Assert.Equal(1, engine.Counters.NatRepliesWithoutSession);
    }

    [Fact]
    public void Reply_FinFromBackend_ClosesTheSession_AndAFreshSynReopensIt()
    {
        var engine = Engine();
        var (backend, port, _) = Open(engine, 40003);
        Assert.Equal(Verdict.Transmit, engine.Send(BackendReply(backend, port, 40003, TcpFlags.Fin | TcpFlags.Ack), BackSide).Verdict);

        Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp(40003, TcpFlags.Syn)).Verdict);
        Assert.Equal(1, engine.Processor.Worker.Sessions6!.Count);
    }

    [Fact]
    public void Forward_HopLimitOne_IsTtlExpired()
    {
        var engine = Engine();
        Assert.Equal(DropReason.TtlExpired, engine.Send(ClientTcp(40004, TcpFlags.Syn, hopLimit: 1)).Drop);
    }

    [Fact]
    public void Forward_MidStreamWithoutSession_DroppedUnlessPickup()
    {
        Assert.Equal(DropReason.NatNoSession, Engine().Send(ClientTcp(40005, TcpFlags.Ack)).Drop);
        Assert.Equal(Verdict.Transmit, Engine(pickup: true).Send(ClientTcp(40005, TcpFlags.Ack)).Verdict);
    }

    [Fact]
    public void Udp_ForwardAndReply_TranslatedBothWaysWithValidChecksums()
    {
        var engine = Engine();
        var query = Ipv6FrameBuilder.Udp(Client, 50000, Vip, 5353).Macs(FrontMac, RouterMac).Payload("q").Build();
        var forward = engine.Send(query);
        Assert.Equal(Verdict.Transmit, forward.Verdict);
        Assert.Equal(Rs1, Destination(forward.Output!));
        AssertL4ChecksumValid(forward.Output!);

        var answer = Ipv6FrameBuilder.Udp(Rs1, 5353, Client, 50000).Macs(BackMac, Rs1Mac).Payload("a").Build();
        var reply = engine.Send(answer, BackSide);

        Assert.Equal(Verdict.Transmit, reply.Verdict);
        Assert.Equal(Vip, Source(reply.Output!));
        Assert.Equal(5353, Port(reply.Output!, L4));
        AssertL4ChecksumValid(reply.Output!);
    }

    [Fact]
    public void Forward_PartialChecksum_IsCompletedBeforeTheRewrite()
    {
        var engine = Engine();
        var syn = Ipv6FrameBuilder.Tcp(Client, 40006, Vip, 80).Flags(TcpFlags.Syn).Macs(FrontMac, RouterMac).L4Checksum(ChecksumMode.Partial).Build();

        var r = engine.Send(syn, new FrameMeta { ChecksumNotReady = true });

        Assert.Equal(Verdict.Transmit, r.Verdict);
        AssertL4ChecksumValid(r.Output!);
    }

    [Fact]
    public void Forward_LargerThanBackendMtu_AnsweredWithPacketTooBigFromTheVip()
    {
        var engine = Engine(backMtu: 1400);
        Open(engine, 40007);
        var big = ClientTcp(40007, TcpFlags.Ack, payload: 1400);

        var r = engine.Send(big);

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(0, r.OutputMeta.EgressInterface);
        Assert.Equal(1, engine.Counters.Drops[(int)DropReason.MtuExceeded]);
        Assert.Equal(1, engine.Counters.IcmpSent);
        var answer = r.Output!;
        Assert.Equal(RouterMac, MacAddress.Read(answer));
        Assert.Equal(FrontMac, MacAddress.Read(answer.AsSpan(6)));
        Assert.Equal(Vip, Source(answer));
        Assert.Equal(Client, Destination(answer));
        Assert.Equal(IpProtocols.Icmpv6, answer[EthernetLength + 6]);
        Assert.Equal(1280, answer.Length - EthernetLength);
        Assert.Equal(2, answer[L4]);
        Assert.Equal(0, answer[L4 + 1]);
        Assert.Equal(1400u, BinaryPrimitives.ReadUInt32BigEndian(answer.AsSpan(L4 + 4)));
        // The quote: the packet as the client sent it, from its IPv6 header on, cut at 1280 bytes in all.
        Assert.Equal(big.AsSpan(EthernetLength, 1280 - Ip6Length - 8).ToArray(), answer.AsSpan(L4 + 8).ToArray());
        AssertL4ChecksumValid(answer);
    }

    [Fact]
    public void PacketTooBig_RateLimitedPerSource()
    {
        var engine = Engine(backMtu: 1400);
        Open(engine, 40008);
        var big = ClientTcp(40008, TcpFlags.Ack, payload: 1400);

        for (var i = 0; i < 10; i++) engine.Send(big);
        Assert.Equal(1, engine.Counters.IcmpSent);
        Assert.Equal(9, engine.Counters.IcmpRateLimited);
        Assert.Equal(10, engine.Counters.Drops[(int)DropReason.MtuExceeded]);

        engine.Clock.Advance(IcmpRateLimit.IntervalMs);
        Assert.Equal(Verdict.Transmit, engine.Send(big).Verdict);
    }

    /// <summary>An ICMPv6 error quoting <paramref name="quoted"/> (a whole frame: its IPv6 packet is quoted).</summary>
    internal static byte[] Icmpv6Error(string source, string destination, byte[] quoted, MacAddress to, MacAddress from, byte type = 1, byte code = 3) =>
        Ipv6FrameBuilder.Icmpv6(source, destination, type, code).Macs(to, from).Payload(quoted[EthernetLength..]).Build();

    [Fact]
    public void IcmpError_FromRouterBehindTheBackend_ReachesTheClientAsIfTheVipHadSentThePacket()
    {
        var engine = Engine();
        var syn = ClientTcp(40009, TcpFlags.Syn);
        var sent = engine.Send(syn).Output!;

        var r = engine.Send(Icmpv6Error(BackRouter, Client, sent, BackMac, Rs1Mac), BackSide);

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(0, r.OutputMeta.EgressInterface);
        var output = r.Output!;
        Assert.Equal(RouterMac, MacAddress.Read(output));
        Assert.Equal(BackRouter, Source(output));
        Assert.Equal(Client, Destination(output));
        Assert.Equal(63, output[EthernetLength + 7]);
        AssertL4ChecksumValid(output);
        // The quote is the client's packet again, but for the hop limit we took off on the way.
        var quote = output.AsSpan(L4 + 8).ToArray();
        var original = syn.AsSpan(EthernetLength).ToArray();
        quote[7] = original[7];
        Assert.Equal(original, quote);
    }

    [Fact]
    public void IcmpError_FromTheBackendItself_SpeaksForTheVip()
    {
        var engine = Engine();
        var sent = engine.Send(ClientTcp(40010, TcpFlags.Syn)).Output!;
        var backend = Destination(sent);

        var r = engine.Send(Icmpv6Error(backend, Client, sent, BackMac, backend == Rs1 ? Rs1Mac : Rs2Mac, type: 1, code: 4), BackSide);

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(Vip, Source(r.Output!));
        AssertL4ChecksumValid(r.Output!);
    }

    [Fact]
    public void IcmpError_FromBackendSide_NotToTheSessionsClient_IsForged()
    {
        var engine = Engine();
        var sent = engine.Send(ClientTcp(40011, TcpFlags.Syn)).Output!;

        Assert.Equal(DropReason.IcmpForged, engine.Send(Icmpv6Error(BackRouter, "2001:db8:2::99", sent, BackMac, Rs1Mac), BackSide).Drop);
    }

    [Fact]
    public void IcmpError_FromBackendSide_QuotingNoSession_IsPassedAndCounted()
    {
        var engine = Engine();
        var stray = Ipv6FrameBuilder.Tcp(Client, 40012, Rs1, 80).Flags(TcpFlags.Syn).Build();

        Assert.Equal(Verdict.Pass, engine.Send(Icmpv6Error(BackRouter, Client, stray, BackMac, Rs1Mac), BackSide).Verdict);
        Assert.Equal(1, engine.Counters.NatRepliesWithoutSession);
    }

    [Fact]
    public void NeighbourDiscoveryOnTheBackendSide_IsTheKernels()
    {
        var engine = Engine();
        var solicitation = Ipv6FrameBuilder.Icmpv6(Rs1, BackAddress, 135).Macs(BackMac, Rs1Mac).Payload(new byte[16]).Build();

        Assert.Equal(Verdict.Pass, engine.Send(solicitation, BackSide).Verdict);
        Assert.Equal(0, engine.Counters.NatRepliesWithoutSession);
    }

    [Fact]
    public void IcmpError_FromClientSideToTheVip_ReachesTheBackendAsIfTheClientHadSentIt()
    {
        var engine = Engine();
        var (backend, port, _) = Open(engine, 40013);
        var backendReply = BackendReply(backend, port, 40013, TcpFlags.Syn | TcpFlags.Ack);
        var delivered = engine.Send(backendReply, BackSide).Output!;

        // The client's router says the client is unreachable, quoting our reply (VIP:80 → client), to the VIP.
        var r = engine.Send(Icmpv6Error(Client, Vip, delivered, FrontMac, RouterMac));

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(1, r.OutputMeta.EgressInterface);
        var output = r.Output!;
        Assert.Equal(backend == Rs1 ? Rs1Mac : Rs2Mac, MacAddress.Read(output));
        Assert.Equal(BackMac, MacAddress.Read(output.AsSpan(6)));
        Assert.Equal(Client, Source(output));
        Assert.Equal(backend, Destination(output));
        AssertL4ChecksumValid(output);
        var quote = output.AsSpan(L4 + 8).ToArray();
        var original = backendReply.AsSpan(EthernetLength).ToArray();
        quote[7] = original[7];
        Assert.Equal(original, quote);
    }

    [Fact]
    public void IcmpError_FromClientSide_QuotingNoSession_IsNatNoSession()
    {
        var engine = Engine();
        var reply = Ipv6FrameBuilder.Tcp(Vip, 80, Client, 40014).Flags(TcpFlags.Ack).Build();

        Assert.Equal(DropReason.NatNoSession, engine.Send(Icmpv6Error(Client, Vip, reply, FrontMac, RouterMac)).Drop);
    }

    [Fact]
    public void Ipv4Nat_BesideNat66_KeepsItsOwnSessions()
    {
        var config = Config();
        var v4 = new ServiceConfig
        {
            Name = "web", Vip = IPAddress.Parse("10.99.0.100"), Port = 80, Protocol = TransportProtocol.Tcp, Mode = ForwardingMode.Nat,
            Interface = "front", BackendInterface = "back",
            Backends = [new BackendConfig { Name = "rs1", Address = IPAddress.Parse("10.99.4.11"), Mac = Rs1Mac }],
        };
        var engine = new TestEngine(config with { Services = [.. config.Services, v4] }, Interfaces());
        var syn4 = FrameBuilder.Tcp("10.99.2.2", 40015, "10.99.0.100", 80).Flags(TcpFlags.Syn).EthernetSource(RouterMac).EthernetDestination(FrontMac).Build();

        Assert.Equal(Verdict.Transmit, engine.Send(syn4).Verdict);
        Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp(40015, TcpFlags.Syn)).Verdict);
        Assert.Equal(1, engine.Processor.Worker.Sessions.Count);
        Assert.Equal(1, engine.Processor.Worker.Sessions6!.Count);
        var reply4 = FrameBuilder.Tcp("10.99.4.11", 80, "10.99.2.2", 40015).Flags(TcpFlags.Syn | TcpFlags.Ack).EthernetSource(Rs1Mac).EthernetDestination(BackMac).Build();
        Assert.Equal(Verdict.Transmit, engine.Send(reply4, BackSide).Verdict);
    }
}
