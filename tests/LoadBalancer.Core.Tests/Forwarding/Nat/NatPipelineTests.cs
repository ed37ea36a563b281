using System.Buffers.Binary;
using System.Net;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Nat;

/// <summary>NAT through the real pipeline, two-armed: clients on "front", backends on "back".</summary>
public sealed class NatPipelineTests
{
    private static readonly MacAddress FrontMac = Fixtures.NatFrontMac;
    private static readonly MacAddress BackMac = Fixtures.NatBackMac;
    private static readonly MacAddress RouterMac = MacAddress.Parse("02:00:00:00:0a:01");
    private static readonly MacAddress Rs1Mac = MacAddress.Parse("02:00:00:00:04:11");
    private static readonly MacAddress Rs2Mac = MacAddress.Parse("02:00:00:00:04:12");
    private const string Vip = "10.99.0.100";
    private const string Client = "10.99.2.2";

    private static BalancerConfig Config(int sessionTableSize = 4096, bool pickup = false, BackendDownAction onDown = BackendDownAction.Reassign) => new()
    {
        SessionTableSize = sessionTableSize,
        Services =
        [
            new ServiceConfig
            {
                Name = "web", Vip = IPAddress.Parse(Vip), Port = 80, Protocol = TransportProtocol.Tcp, Mode = ForwardingMode.Nat,
                Interface = "front", BackendInterface = "back", TcpPickup = pickup, OnBackendDown = onDown,
                Backends =
                [
                    new BackendConfig { Name = "rs1", Address = IPAddress.Parse("10.99.4.11"), Mac = Rs1Mac },
                    new BackendConfig { Name = "rs2", Address = IPAddress.Parse("10.99.4.12"), Mac = Rs2Mac, Port = 8081 },
                ],
            },
            new ServiceConfig
            {
                Name = "echo", Vip = IPAddress.Parse(Vip), Port = 5353, Protocol = TransportProtocol.Udp, Mode = ForwardingMode.Nat,
                Interface = "front", BackendInterface = "back",
                Backends = [new BackendConfig { Name = "e1", Address = IPAddress.Parse("10.99.4.11"), Mac = Rs1Mac }],
            },
        ],
    };

    private static TestEngine Engine(BalancerConfig? config = null, int sessionCapacity = 4096) =>
        new(config ?? Config(), Fixtures.NatInterfaces, sessionCapacity: sessionCapacity);

    private static byte[] ClientTcp(ushort clientPort, TcpFlags flags, byte ttl = 64) =>
        FrameBuilder.Tcp(Client, clientPort, Vip, 80).Flags(flags).Sequence(100, 0).Ttl(ttl).EthernetSource(RouterMac).EthernetDestination(FrontMac)
            .Payload("hello").Build();

    private static (string Address, ushort Port, MacAddress Mac) Destination(byte[] frame) =>
        (FrameBuilder.DestinationIp(frame), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(36)), MacAddress.Read(frame));

    private static void AssertChecksumsValid(byte[] frame)
    {
        Assert.Equal(0, Checksum.Compute(frame.AsSpan(14, 20)));
        var total = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(16));
        var l4 = frame.AsSpan(34, total - 20);
        var pseudo = Checksum.PseudoHeaderSum(BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(26)), BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(30)),
            frame[23], l4.Length);
        Assert.Equal(0, Checksum.Compute(l4, pseudo));
    }

    [Fact]
    public void Forward_Syn_RewritesDestinationTtlAndMacsWithValidChecksums()
    {
        var engine = Engine();
        var r = engine.Send(ClientTcp(40000, TcpFlags.Syn));

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(1, r.OutputMeta.EgressInterface);
        var (address, port, mac) = Destination(r.Output!);
        Assert.True((address, port, mac) == ("10.99.4.11", 80, Rs1Mac) || (address, port, mac) == ("10.99.4.12", 8081, Rs2Mac), $"{address}:{port} {mac}");
        Assert.Equal(BackMac, MacAddress.Read(r.Output!.AsSpan(6)));
        Assert.Equal(63, r.Output![22]);
        Assert.Equal(Client, FrameBuilder.SourceIp(r.Output));
        AssertChecksumsValid(r.Output!);
    }

    [Fact]
    public void Reply_InSession_BecomesVipToClientTowardsTheClientHop()
    {
        var engine = Engine();
        var forward = engine.Send(ClientTcp(40001, TcpFlags.Syn));
        var (backend, backendPort, _) = Destination(forward.Output!);

        var reply = FrameBuilder.Tcp(backend, backendPort, Client, 40001).Flags(TcpFlags.Syn | TcpFlags.Ack).Sequence(7, 101)
            .EthernetSource(backend.EndsWith("11") ? Rs1Mac : Rs2Mac).EthernetDestination(BackMac).Build();
        var r = engine.Send(reply, new FrameMeta { IngressInterface = 1 });

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(0, r.OutputMeta.EgressInterface);
        Assert.Equal(RouterMac, MacAddress.Read(r.Output!));
        Assert.Equal(FrontMac, MacAddress.Read(r.Output!.AsSpan(6)));
        Assert.Equal(Vip, FrameBuilder.SourceIp(r.Output!));
        Assert.Equal(80, BinaryPrimitives.ReadUInt16BigEndian(r.Output.AsSpan(34)));
        Assert.Equal(Client, FrameBuilder.DestinationIp(r.Output!));
        AssertChecksumsValid(r.Output!);
    }

    [Fact]
    public void Reply_WithoutSession_IsPassedAndCounted()
    {
        var engine = Engine();
        var stray = FrameBuilder.Tcp("10.99.4.11", 80, Client, 45000).Flags(TcpFlags.Ack).EthernetDestination(BackMac).Build();
        Assert.Equal(Verdict.Pass, engine.Send(stray, new FrameMeta { IngressInterface = 1 }).Verdict);
        Assert.Equal(1, engine.Counters.NatRepliesWithoutSession);

        // The balancer's own conversations (health checks) are not counted as such.
        var own = FrameBuilder.Tcp("10.99.4.11", 80, "10.99.4.1", 45000).Flags(TcpFlags.Ack).EthernetDestination(BackMac).Build();
        Assert.Equal(Verdict.Pass, engine.Send(own, new FrameMeta { IngressInterface = 1 }).Verdict);
        Assert.Equal(1, engine.Counters.NatRepliesWithoutSession);
    }

    [Fact]
    public void Forward_MidStreamWithoutSession_DroppedUnlessPickup()
    {
        var engine = Engine();
        Assert.Equal(DropReason.NatNoSession, engine.Send(ClientTcp(40002, TcpFlags.Ack)).Drop);

        var loose = Engine(Config(pickup: true));
        Assert.Equal(Verdict.Transmit, loose.Send(ClientTcp(40002, TcpFlags.Ack)).Verdict);
    }

    [Fact]
    public void Forward_TtlOne_DroppedAsExpired()
    {
        var engine = Engine();
        Assert.Equal(DropReason.TtlExpired, engine.Send(ClientTcp(40003, TcpFlags.Syn, ttl: 1)).Drop);
    }

    [Fact]
    public void SessionTable_FullOfConversations_NewFlowsDroppedOldOnesKeepFlowing()
    {
        var engine = Engine(Config(), sessionCapacity: 8);
        for (ushort p = 0; p < 8; p++)
        {
            Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp((ushort)(41000 + p), TcpFlags.Syn)).Verdict);
            Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp((ushort)(41000 + p), TcpFlags.Ack)).Verdict);
        }

        Assert.Equal(DropReason.SessionTableFull, engine.Send(ClientTcp(42000, TcpFlags.Syn)).Drop);
        for (ushort p = 0; p < 8; p++) Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp((ushort)(41000 + p), TcpFlags.Ack)).Verdict);
        Assert.Equal(8, engine.Counters.ServiceSessions[0]);
        Assert.Equal(0, engine.Processor.Worker.Sessions.Evictions);
    }

    /// <summary>A SYN flood fills the table with sessions whose handshake never completes: a real client's SYN
    /// evicts one of them, never a conversation.</summary>
    [Fact]
    public void SessionTable_FullOfEmbryonic_NewFlowEvictsOneConversationsStay()
    {
        var engine = Engine(Config(), sessionCapacity: 8);
        for (ushort p = 0; p < 2; p++)
        {
            engine.Send(ClientTcp((ushort)(41000 + p), TcpFlags.Syn));
            engine.Send(ClientTcp((ushort)(41000 + p), TcpFlags.Ack));
        }
        for (ushort p = 2; p < 8; p++) Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp((ushort)(41000 + p), TcpFlags.Syn)).Verdict);

        for (ushort p = 0; p < 20; p++) Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp((ushort)(43000 + p), TcpFlags.Syn)).Verdict);

        Assert.Equal(20, engine.Processor.Worker.Sessions.Evictions);
        Assert.Equal(8, engine.Counters.ServiceSessions[0]);
        for (ushort p = 0; p < 2; p++) Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp((ushort)(41000 + p), TcpFlags.Ack)).Verdict);
        // The newest embryonic session was not the one pushed out: it can still complete its handshake.
        Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp(43019, TcpFlags.Ack)).Verdict);
    }

    [Fact]
    public void Session_UdpAnsweredOrTcpAcknowledged_IsNotEmbryonic()
    {
        var session = new LoadBalancer.Core.Forwarding.Nat.NatSession<LoadBalancer.Core.Flows.FlowKey> { State = LoadBalancer.Core.Flows.FlowState.Udp };
        Assert.True(session.IsEmbryonic);
        session.Replied = true;
        Assert.False(session.IsEmbryonic);
        session.State = LoadBalancer.Core.Flows.FlowState.TcpSyn;
        Assert.True(session.IsEmbryonic);
        session.State = LoadBalancer.Core.Flows.FlowState.TcpEstablished;
        Assert.False(session.IsEmbryonic);
    }

    [Fact]
    public void Sessions_Expire_ThenSlotsAreReused()
    {
        var engine = Engine(Config(), sessionCapacity: 8);
        for (ushort p = 0; p < 8; p++) engine.Send(ClientTcp((ushort)(41000 + p), TcpFlags.Syn));
        engine.Clock.Advance((long)FlowTimeoutsConfig.Default.TcpSyn.TotalMilliseconds + 1);

        Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp(42000, TcpFlags.Syn)).Verdict);
    }

    [Fact]
    public void BackendDown_Reassign_SessionDroppedAndNextSynGoesElsewhere()
    {
        var engine = Engine();
        var first = engine.Send(ClientTcp(40010, TcpFlags.Syn));
        var (address, _, _) = Destination(first.Output!);
        var dead = address.EndsWith("11") ? "rs1" : "rs2";
        engine.Reload(engine.Config, (s, b) => SnapshotBuilder.DefaultRuntime(s, b) with
        {
            Health = s.Name == "web" && b.Name == dead ? BackendHealth.Unhealthy : BackendHealth.Healthy,
        });

        Assert.Equal(DropReason.BackendDown, engine.Send(ClientTcp(40010, TcpFlags.Ack)).Drop);
        var again = engine.Send(ClientTcp(40010, TcpFlags.Syn));
        Assert.Equal(Verdict.Transmit, again.Verdict);
        Assert.NotEqual(address, Destination(again.Output!).Address);
    }

    [Fact]
    public void Udp_RequestAndReply_TranslatedBothWays()
    {
        var engine = Engine();
        var request = FrameBuilder.Udp(Client, 50000, Vip, 5353).Payload("ping").EthernetSource(RouterMac).EthernetDestination(FrontMac).Build();
        var r = engine.Send(request);
        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(("10.99.4.11", (ushort)5353, Rs1Mac), Destination(r.Output!));
        AssertChecksumsValid(r.Output!);

        var reply = FrameBuilder.Udp("10.99.4.11", 5353, Client, 50000).Payload("e1 ping").EthernetDestination(BackMac).Build();
        var back = engine.Send(reply, new FrameMeta { IngressInterface = 1 });
        Assert.Equal(Verdict.Transmit, back.Verdict);
        Assert.Equal(Vip, FrameBuilder.SourceIp(back.Output!));
        AssertChecksumsValid(back.Output!);
    }

    [Fact]
    public void PartialChecksumGso_OnlyAddressFoldedIn_CompletesCorrectly()
    {
        var engine = Engine();
        var frame = ClientTcp(40020, TcpFlags.Syn);
        // Make the TCP checksum field partial, as a local TSO sender leaves it: the folded pseudo-header sum.
        var tcpLength = frame.Length - 34;
        var partial = Checksum.Fold(Checksum.PseudoHeaderSum(FrameBuilder.Ip(Client), FrameBuilder.Ip(Vip), IpProtocols.Tcp, tcpLength));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34 + 16), partial);
        var meta = new FrameMeta
        {
            Vnet = new VnetHeader { Flags = VnetHeader.FlagNeedsChecksum, GsoType = VnetHeader.GsoTcpV4, GsoSize = 1448, ChecksumStart = 34, ChecksumOffset = 16 },
        };

        var r = engine.Send(frame, meta);

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.True(r.OutputMeta.Vnet.IsGso);
        // What the kernel will do per segment: sum from csum_start over the data with the field as it is.
        var output = r.Output!;
        Checksum.CompletePartial(output, 34, 16, isUdp: false);
        AssertChecksumsValid(output);
    }

    [Fact]
    public void IcmpPortUnreachable_FromBackend_ReachesClientFromVipWithQuoteTranslated()
    {
        var engine = Engine();
        var request = FrameBuilder.Udp(Client, 50001, Vip, 5353).Payload("are you there").EthernetSource(RouterMac).EthernetDestination(FrontMac).Build();
        var forwarded = engine.Send(request).Output!;

        // The backend quotes the datagram as it received it (client -> backend:5353), the whole of it.
        var quoted = forwarded.AsSpan(14).ToArray();
        var error = FrameBuilder.Icmp("10.99.4.11", Client).IcmpHeader(3, 3).Payload(quoted).EthernetDestination(BackMac).Build();
        var r = engine.Send(error, new FrameMeta { IngressInterface = 1 });

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(0, r.OutputMeta.EgressInterface);
        // An independent decoder reads what the client receives: outer and quoted headers and every checksum.
        var decoded = ExternalTools.RunPython("""
            import sys
            from scapy.all import Ether, IP, UDP, ICMP, IPerror, UDPerror, raw
            f = Ether(bytes.fromhex(sys.argv[1]))
            ip = f[IP]; icmp = f[ICMP]; inner = f[IPerror]; udp = f[UDPerror]
            def ok(layer, field):
                copy = layer.copy(); setattr(copy, field, None)
                return getattr(layer, field) == getattr(copy.__class__(raw(copy)), field)
            print(ip.src, ip.dst, icmp.type, icmp.code, inner.src, inner.dst, udp.sport, udp.dport,
                  ok(ip, "chksum"), ok(icmp, "chksum"), ok(inner, "chksum"), bytes(udp.payload).decode())
            """, Convert.ToHexString(r.Output!)).Trim();
        Assert.Equal($"{Vip} {Client} 3 3 {Client} {Vip} 50001 5353 True True True are you there", decoded);
    }

    [Fact]
    public void IcmpError_FromClientSideAboutAReply_ReachesTheBackendWithQuoteTranslated()
    {
        var engine = Engine();
        var forward = engine.Send(FrameBuilder.Udp(Client, 50002, Vip, 5353).Payload("x").EthernetSource(RouterMac).EthernetDestination(FrontMac).Build());
        var reply = engine.Send(FrameBuilder.Udp("10.99.4.11", 5353, Client, 50002).Payload("e1 x").EthernetDestination(BackMac).Build(),
            new FrameMeta { IngressInterface = 1 }).Output!;
        Assert.NotNull(forward.Output);

        // A router in front of the client says the reply (VIP:5353 -> client) could not be delivered.
        var error = FrameBuilder.Icmp("10.99.1.1", Vip).IcmpHeader(3, 1).Payload(reply.AsSpan(14).ToArray())
            .EthernetSource(RouterMac).EthernetDestination(FrontMac).Build();
        var r = engine.Send(error);

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(1, r.OutputMeta.EgressInterface);
        Assert.Equal(Rs1Mac, MacAddress.Read(r.Output!));
        var decoded = ExternalTools.RunPython("""
            import sys
            from scapy.all import Ether, IP, ICMP, IPerror, UDPerror
            f = Ether(bytes.fromhex(sys.argv[1]))
            print(f[IP].src, f[IP].dst, f[IPerror].src, f[IPerror].dst, f[UDPerror].sport, f[UDPerror].dport)
            """, Convert.ToHexString(r.Output!)).Trim();
        Assert.Equal($"10.99.1.1 10.99.4.11 10.99.4.11 {Client} 5353 50002", decoded);
    }

    [Fact]
    public void Forward_LargerThanBackendMtuWithDf_AnsweredWithFragmentationNeeded()
    {
        var engine = Engine();
        engine.Send(ClientTcp(40030, TcpFlags.Syn));
        var big = FrameBuilder.Tcp(Client, 40030, Vip, 80).Flags(TcpFlags.Ack).DontFragment().Payload(new byte[1500])
            .EthernetSource(RouterMac).EthernetDestination(FrontMac).Build();

        var r = engine.Send(big);

        Assert.Equal(Verdict.Transmit, r.Verdict);
        Assert.Equal(0, r.OutputMeta.EgressInterface);
        Assert.Equal(1, engine.Counters.Drops[(int)DropReason.MtuExceeded]);
        var decoded = ExternalTools.RunPython("""
            import sys
            from scapy.all import Ether, IP, ICMP, IPerror, TCPerror, raw
            f = Ether(bytes.fromhex(sys.argv[1]))
            c = f[ICMP].copy(); c.chksum = None
            good = ICMP(raw(c)).chksum == f[ICMP].chksum
            print(f.dst, f[IP].src, f[IP].dst, f[ICMP].type, f[ICMP].code, f[ICMP].nexthopmtu, f[IPerror].dst, f[TCPerror].sport, good)
            """, Convert.ToHexString(r.Output!)).Trim();
        Assert.Equal($"{RouterMac} 10.99.1.10 {Client} 3 4 1500 {Vip} 40030 True", decoded);
    }

    [Fact]
    public void Forward_GsoWhoseSegmentsExceedBackendMtu_AnsweredWithFragmentationNeeded()
    {
        var engine = Engine();
        engine.Send(ClientTcp(40031, TcpFlags.Syn));
        var frame = FrameBuilder.Tcp(Client, 40031, Vip, 80).Flags(TcpFlags.Ack).DontFragment().Payload(new byte[4000])
            .EthernetSource(RouterMac).EthernetDestination(FrontMac).Build();
        FrameMeta Gso(ushort size) => new() { Vnet = new VnetHeader { GsoType = VnetHeader.GsoTcpV4, GsoSize = size } };

        Assert.Equal(Verdict.Transmit, engine.Send(frame, Gso(1460)).Verdict);
        Assert.Equal(1, engine.Transmitters[1].Sent.Count(f => f.Frame.Length == frame.Length));

        var r = engine.Send(frame, Gso(1480));
        Assert.Equal(0, r.OutputMeta.EgressInterface);
        Assert.Equal(1, engine.Counters.IcmpSent);
    }

    [Fact]
    public void Forward_LargerThanMtuWithoutDf_DroppedAndCounted()
    {
        var engine = Engine();
        engine.Send(ClientTcp(40032, TcpFlags.Syn));
        var big = FrameBuilder.Tcp(Client, 40032, Vip, 80).Flags(TcpFlags.Ack).DontFragment(false).Payload(new byte[1500])
            .EthernetSource(RouterMac).EthernetDestination(FrontMac).Build();
        Assert.Equal(DropReason.MtuExceeded, engine.Send(big).Drop);
    }

    /// <summary>Anyone on the backend segment can send an ICMP error quoting a live session; unless it is addressed
    /// to that session's client, translating it would let them have the balancer emit ICMP to any client-side address.</summary>
    [Fact]
    public void IcmpError_FromBackendSideNotAddressedToTheSessionsClient_IsDroppedAsForged()
    {
        var engine = Engine();
        var forwarded = engine.Send(FrameBuilder.Udp(Client, 50005, Vip, 5353).Payload("q").EthernetSource(RouterMac).EthernetDestination(FrontMac).Build()).Output!;
        var quoted = forwarded.AsSpan(14).ToArray();

        var forged = FrameBuilder.Icmp("10.99.4.11", "10.99.2.77").IcmpHeader(3, 3).Payload(quoted).EthernetDestination(BackMac).Build();
        var r = engine.Send(forged, new FrameMeta { IngressInterface = 1 });

        Assert.Equal(DropReason.IcmpForged, r.Drop);
        var genuine = FrameBuilder.Icmp("10.99.4.11", Client).IcmpHeader(3, 3).Payload(quoted).EthernetDestination(BackMac).Build();
        Assert.Equal(Verdict.Transmit, engine.Send(genuine, new FrameMeta { IngressInterface = 1 }).Verdict);
    }

    /// <summary>The answer is built in the received frame's buffer: a backend MTU so small that the answer (IP
    /// header with options quoted, 8 bytes more) would not fit is a drop, never a slice out of range.</summary>
    [Theory]
    [InlineData(68)]
    [InlineData(80)]
    [InlineData(95)]
    public void Forward_TinyBackendMtuWithIpOptions_NeverThrows(int mtu)
    {
        var interfaces = new[] { Fixtures.NatInterfaces[0], Fixtures.NatInterfaces[1] with { Mtu = mtu } };
        var engine = new TestEngine(Config(), interfaces);
        engine.Send(ClientTcp(40040, TcpFlags.Syn));
        for (var payload = 0; payload < 40; payload++)
        {
            var frame = FrameBuilder.Tcp(Client, 40040, Vip, 80).Flags(TcpFlags.Ack).DontFragment().IpOptions(new byte[40])
                .Payload(new byte[payload]).EthernetSource(RouterMac).EthernetDestination(FrontMac).Build();
            var r = engine.Send(frame);
            if (r.Verdict == Verdict.Transmit && r.OutputMeta.EgressInterface == 0)
                Assert.Equal(0, Checksum.Compute(r.Output!.AsSpan(34)));
        }
        Assert.True(engine.Counters.Drops[(int)DropReason.MtuExceeded] > 0);
    }

    [Fact]
    public void FragmentationNeeded_RateLimitedPerSource()
    {
        var engine = Engine();
        engine.Send(ClientTcp(40041, TcpFlags.Syn));
        var big = FrameBuilder.Tcp(Client, 40041, Vip, 80).Flags(TcpFlags.Ack).DontFragment().Payload(new byte[1500])
            .EthernetSource(RouterMac).EthernetDestination(FrontMac).Build();

        for (var i = 0; i < 10; i++) engine.Send(big);
        Assert.Equal(1, engine.Counters.IcmpSent);
        Assert.Equal(9, engine.Counters.IcmpRateLimited);
        Assert.Equal(10, engine.Counters.Drops[(int)DropReason.MtuExceeded]);

        engine.Clock.Advance(LoadBalancer.Core.Forwarding.IcmpRateLimit.IntervalMs);
        Assert.Equal(Verdict.Transmit, engine.Send(big).Verdict);
        Assert.Equal(2, engine.Counters.IcmpSent);
    }

    /// <summary><c>new_flow_rate</c>: beyond a tenth of a second's worth, new flows are refused and counted while the
    /// established ones pass; the rate refills with time.</summary>
    [Fact]
    public void NewFlowRate_BeyondTheCap_NewFlowsRefusedEstablishedUntouched()
    {
        var engine = new TestEngine(Config() with { NewFlowRate = 100 }, Fixtures.NatInterfaces);
        engine.Send(ClientTcp(40100, TcpFlags.Syn));
        var admitted = 1;
        for (ushort p = 1; p < 50; p++)
            if (engine.Send(ClientTcp((ushort)(40100 + p), TcpFlags.Syn)).Verdict == Verdict.Transmit) admitted++;

        Assert.Equal(10, admitted);
        Assert.Equal(40, engine.Counters.Drops[(int)DropReason.NewFlowRateExceeded]);
        Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp(40100, TcpFlags.Ack)).Verdict);
        engine.Clock.Advance(10);
        Assert.Equal(Verdict.Transmit, engine.Send(ClientTcp(40200, TcpFlags.Syn)).Verdict);
        Assert.Equal(DropReason.NewFlowRateExceeded, engine.Send(ClientTcp(40201, TcpFlags.Syn)).Drop);
    }
}
