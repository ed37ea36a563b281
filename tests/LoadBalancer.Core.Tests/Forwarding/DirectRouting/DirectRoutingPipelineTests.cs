using System.Buffers.Binary;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.DirectRouting;

public class DirectRoutingPipelineTests
{
    private static readonly int[] AllPool = [1, 2, 3, 4];

    private static byte[] PoolFrame(int client, TcpFlags flags = TcpFlags.Ack) =>
        FrameBuilder.Tcp($"198.51.100.{1 + client / 20000}", (ushort)(20000 + client % 20000), Fixtures.PoolVip, Fixtures.PoolPort)
            .Flags(flags).Payload("data").Build();

    /// <summary>Sends one packet of each of <paramref name="flows"/> flows to "pool" and returns the backend of each.</summary>
    private static string[] SendPool(TestEngine engine, int flows, int firstClient = 0, TcpFlags flags = TcpFlags.Ack)
    {
        var backends = new string[flows];
        for (var i = 0; i < flows; i++)
        {
            var result = engine.Send(PoolFrame(firstClient + i, flags));
            Assert.Equal(Verdict.Transmit, result.Verdict);
            backends[i] = engine.BackendOf(result.Output!, "pool");
        }
        return backends;
    }

    [Fact]
    public void Send_TcpToVip_RewritesOnlyTheMacs()
    {
        var engine = new TestEngine(Fixtures.Config());
        var input = Fixtures.WebTcp().Flags(TcpFlags.Syn).IpOptions(0x94, 4, 0, 0).Build();

        var result = engine.Send(input);

        Assert.Equal(Verdict.Transmit, result.Verdict);
        var output = result.Output!;
        Assert.Equal(input.Length, output.Length);
        Assert.Equal(input[12..], output[12..]);
        Assert.Equal(Fixtures.WebBackendMac, MacAddress.Read(output));
        Assert.Equal(Fixtures.InterfaceMac, MacAddress.Read(output.AsSpan(6)));
        Assert.Equal(0, result.OutputMeta.EgressInterface);
    }

    [Fact]
    public void Send_VlanTaggedUdp_RewritesOnlyTheMacsAndKeepsTag()
    {
        var engine = new TestEngine(Fixtures.Config());
        var input = FrameBuilder.Udp(Fixtures.ClientIp, 5000, Fixtures.WebVip, Fixtures.DnsPort).Vlan(321).Payload("q").PadTo(64, 0x33).Build();

        var result = engine.Send(input);

        Assert.Equal(input[12..], result.Output![12..]);
        Assert.Equal(Fixtures.DnsBackendMac, MacAddress.Read(result.Output));
    }

    [Fact]
    public void Send_SameFlowRepeatedly_AlwaysSameBackend()
    {
        var engine = new TestEngine(Fixtures.Config());
        var first = engine.BackendOf(engine.Send(PoolFrame(7, TcpFlags.Syn)).Output!, "pool");

        for (var i = 0; i < 50; i++)
        {
            var flags = i % 3 == 0 ? TcpFlags.Ack : TcpFlags.Psh | TcpFlags.Ack;
            Assert.Equal(first, engine.BackendOf(engine.Send(PoolFrame(7, flags)).Output!, "pool"));
        }
    }

    [Fact]
    public void Send_SameFlowInFreshEngines_SameBackendWithoutFlowState()
    {
        // The choice comes from the seeded hash and Maglev, not from per-process state:
        // two engines (two balancer nodes) with the same config agree.
        var a = new TestEngine(Fixtures.Config());
        var b = new TestEngine(Fixtures.Config());

        Assert.Equal(SendPool(a, 200), SendPool(b, 200));
    }

    [Fact]
    public void Send_ManyFlows_ReachEveryBackendRoughlyEqually()
    {
        var engine = new TestEngine(Fixtures.Config());

        var backends = SendPool(engine, 2000);

        var counts = backends.GroupBy(b => b).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Fixtures.PoolSize, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 350, 650));
        Assert.Equal(2000, engine.Counters.ServiceFlows[engine.Service("pool").Id]);
    }

    [Fact]
    public void Send_AfterBackendAdded_ExistingFlowsKeepTheirBackend()
    {
        var engine = new TestEngine(Fixtures.Config());
        var before = SendPool(engine, 1000);

        engine.Reload(Fixtures.Config(Fixtures.Pool([1, 2, 3, 4, 5])));
        var after = SendPool(engine, 1000);

        Assert.Equal(before, after);
        var newFlows = SendPool(engine, 1000, firstClient: 5000);
        Assert.Contains("pool-5", newFlows);
    }

    [Fact]
    public void Send_AfterOtherBackendRemoved_FlowsKeepBackendButRemovedOnesMove()
    {
        var engine = new TestEngine(Fixtures.Config());
        var before = SendPool(engine, 1000);
        Assert.Contains("pool-4", before);

        engine.Reload(Fixtures.Config(Fixtures.Pool([1, 2, 3])));
        var after = SendPool(engine, 1000);

        for (var i = 0; i < before.Length; i++)
        {
            if (before[i] == "pool-4") Assert.NotEqual("pool-4", after[i]);
            else Assert.Equal(before[i], after[i]);
        }
        Assert.DoesNotContain("pool-4", after);
    }

    [Fact]
    public void Send_BackendReorderedInConfig_FlowsKeepTheirBackend()
    {
        var engine = new TestEngine(Fixtures.Config());
        var before = SendPool(engine, 500);

        engine.Reload(Fixtures.Config(Fixtures.Pool([4, 2, 3, 1])));

        Assert.Equal(before, SendPool(engine, 500));
    }

    [Fact]
    public void Send_RemovedBackendReturns_SameIdAndNewFlowsReachIt()
    {
        var engine = new TestEngine(Fixtures.Config());
        var id = engine.Service("pool").Backends.Single(b => b.Name == "pool-2").Id;

        engine.Reload(Fixtures.Config(Fixtures.Pool([1, 3, 4])));
        engine.Reload(Fixtures.Config(Fixtures.Pool(AllPool)));

        Assert.Equal(id, engine.Service("pool").Backends.Single(b => b.Name == "pool-2").Id);
        Assert.Contains("pool-2", SendPool(engine, 400));
    }

    [Fact]
    public void Send_WeightZeroBackend_KeepsExistingFlowsButGetsNoNewOnes()
    {
        var engine = new TestEngine(Fixtures.Config());
        var before = SendPool(engine, 1000);
        var drained = before.Count(b => b == "pool-2");
        Assert.True(drained > 0);

        engine.Reload(Fixtures.Config(Fixtures.Pool(AllPool, i => i == 2 ? 0 : 100)));

        Assert.Equal(before, SendPool(engine, 1000));
        var newFlows = SendPool(engine, 1000, firstClient: 5000);
        Assert.DoesNotContain("pool-2", newFlows);
        Assert.Equal(3, newFlows.Distinct().Count());
    }

    [Fact]
    public void Send_NewSynOnClosingFlow_IsDecidedAgain()
    {
        var engine = new TestEngine(Fixtures.Config());
        var client = Enumerable.Range(0, 100).First(c => SendPool(engine, 1, c)[0] == "pool-2");
        engine.Reload(Fixtures.Config(Fixtures.Pool(AllPool, i => i == 2 ? 0 : 100)));

        // Mid-connection packets stay; after FIN, a new SYN on the same 5-tuple is a new connection.
        Assert.Equal("pool-2", SendPool(engine, 1, client, TcpFlags.Ack)[0]);
        Assert.Equal("pool-2", SendPool(engine, 1, client, TcpFlags.Fin | TcpFlags.Ack)[0]);
        Assert.NotEqual("pool-2", SendPool(engine, 1, client, TcpFlags.Syn)[0]);
    }

    [Fact]
    public void Send_FlowIdleBeyondTimeout_IsDecidedAgain()
    {
        var engine = new TestEngine(Fixtures.Config());
        var client = Enumerable.Range(0, 100).First(c => SendPool(engine, 1, c)[0] == "pool-3");
        engine.Reload(Fixtures.Config(Fixtures.Pool(AllPool, i => i == 3 ? 0 : 100)));
        // Seen again: confirmed, no longer embryonic, so the established timeout applies.
        SendPool(engine, 1, client);

        engine.Clock.Advance(FlowTimeouts.Default.TcpEstablishedMs - 1);
        Assert.Equal("pool-3", SendPool(engine, 1, client)[0]);
        engine.Clock.Advance(FlowTimeouts.Default.TcpEstablishedMs + 1);
        Assert.NotEqual("pool-3", SendPool(engine, 1, client)[0]);
    }

    [Fact]
    public void Send_BackendMacUnknown_DropsUntilArpTeachesIt()
    {
        var engine = new TestEngine(Fixtures.Config());
        var frame = FrameBuilder.Tcp(Fixtures.ClientIp, 40000, Fixtures.DarkVip, 80).Build();

        Assert.Equal(DropReason.BackendMacUnresolved, engine.Send(frame).Drop);

        var backendMac = MacAddress.Parse("02:00:00:00:03:01");
        engine.AnswerArp(Fixtures.DarkBackendIp, backendMac);

        var result = engine.Send(frame);
        Assert.Equal(Verdict.Transmit, result.Verdict);
        Assert.Equal(backendMac, MacAddress.Read(result.Output));
    }

    [Fact]
    public void Send_NonVipTraffic_Passes()
    {
        var engine = new TestEngine(Fixtures.Config());

        Assert.Equal(Verdict.Pass, engine.Send(FrameBuilder.Tcp(Fixtures.ClientIp, 1, "10.0.0.2", 22).Build()).Verdict);
        Assert.Equal(Verdict.Pass, engine.Send(FrameBuilder.Udp(Fixtures.ClientIp, 1, "10.0.0.200", 53).Build()).Verdict);
        Assert.Equal(Verdict.Pass, engine.Send(FrameBuilder.Tcp(Fixtures.ClientIp, 1, Fixtures.PoolVip, 80).Build()).Verdict);
        Assert.Equal(3, engine.Counters.Passed);
        Assert.Equal(0, engine.Flows.Inserts);
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(true, 8)]
    [InlineData(false, 8)]
    [InlineData(false, 65528)]
    public void Send_FragmentToVip_DropsAsIpv4Fragment(bool more, int offset)
    {
        var engine = new TestEngine(Fixtures.Config());

        var result = engine.Send(Fixtures.WebTcp().Fragment(more, offset).Build());

        Assert.Equal(DropReason.Ipv4Fragment, result.Drop);
        Assert.Equal(0, engine.Flows.Inserts);
    }

    [Fact]
    public void Send_ChecksumNotReadyVlanPadded_CompletesChecksumOverDatagramOnly()
    {
        var engine = new TestEngine(Fixtures.Config());
        // Non-zero Ethernet padding must not be summed into the TCP checksum.
        var builder = Fixtures.WebTcp().Vlan(12).Payload("odd").PadTo(80, 0xFF);
        var expected = FrameBuilder.WithMacs(builder.Clone().Build(), Fixtures.WebBackendMac, Fixtures.InterfaceMac);

        var result = engine.Send(builder.L4Checksum(ChecksumMode.Partial).Build(), new FrameMeta { ChecksumNotReady = true });

        Assert.Equal(FrameBuilder.Hex(expected), FrameBuilder.Hex(result.Output));
        Assert.False(result.OutputMeta.ChecksumNotReady);
    }

    [Fact]
    public void Send_VnetNeedsChecksum_CompletesChecksumAndClearsFlag()
    {
        var engine = new TestEngine(Fixtures.Config());
        var builder = Fixtures.WebTcp().Payload(new byte[333]);
        var expected = FrameBuilder.WithMacs(builder.Clone().Build(), Fixtures.WebBackendMac, Fixtures.InterfaceMac);
        var meta = new FrameMeta
        {
            Vnet = new VnetHeader
            {
                Flags = VnetHeader.FlagNeedsChecksum,
                ChecksumStart = (ushort)builder.L4Offset,
                ChecksumOffset = (ushort)builder.L4ChecksumOffset,
            },
        };

        var result = engine.Send(builder.L4Checksum(ChecksumMode.Partial).Build(), meta);

        Assert.Equal(FrameBuilder.Hex(expected), FrameBuilder.Hex(result.Output));
        Assert.False(result.OutputMeta.Vnet.NeedsChecksum);
        Assert.Equal(builder.L4Offset, result.OutputMeta.Vnet.ChecksumStart);
    }

    [Fact]
    public void Send_VnetNeedsChecksumUdp_CompletesChecksum()
    {
        var engine = new TestEngine(Fixtures.Config());
        var builder = FrameBuilder.Udp(Fixtures.ClientIp, 4444, Fixtures.WebVip, Fixtures.DnsPort).Payload(new byte[99]);
        var expected = FrameBuilder.WithMacs(builder.Clone().Build(), Fixtures.DnsBackendMac, Fixtures.InterfaceMac);
        var meta = new FrameMeta
        {
            Vnet = new VnetHeader { Flags = VnetHeader.FlagNeedsChecksum, ChecksumStart = (ushort)builder.L4Offset, ChecksumOffset = 6 },
        };

        var result = engine.Send(builder.L4Checksum(ChecksumMode.Partial).Build(), meta);

        Assert.Equal(FrameBuilder.Hex(expected), FrameBuilder.Hex(result.Output));
    }

    [Fact]
    public void Send_GsoSuperFrame_KeepsPartialChecksumAndVnetHeader()
    {
        var engine = new TestEngine(Fixtures.Config());
        var builder = Fixtures.WebTcp().Payload(new byte[3 * 1448]).L4Checksum(ChecksumMode.Partial);
        var input = builder.Build();
        var vnet = new VnetHeader
        {
            Flags = VnetHeader.FlagNeedsChecksum,
            GsoType = VnetHeader.GsoTcpV4,
            HeaderLength = (ushort)(builder.L4Offset + 20),
            GsoSize = 1448,
            ChecksumStart = (ushort)builder.L4Offset,
            ChecksumOffset = 16,
        };

        var result = engine.Send(input, new FrameMeta { Vnet = vnet, ChecksumNotReady = true });

        Assert.Equal(Verdict.Transmit, result.Verdict);
        Assert.Equal(input[12..], result.Output![12..]); // checksum field still holds the pseudo-header sum
        Assert.Equal(vnet, result.OutputMeta.Vnet);
        Assert.True(result.OutputMeta.ChecksumNotReady);
        var partial = BinaryPrimitives.ReadUInt16BigEndian(result.Output.AsSpan(builder.L4Offset + 16));
        Assert.Equal(ReferenceChecksum.Sum([], ReferenceChecksum.PseudoHeader(builder.SourceAddress, builder.DestinationAddress, 6, input.Length - builder.L4Offset)), partial);
    }

    [Fact]
    public void Send_GsoWithEcnBit_IsStillTreatedAsGso()
    {
        var engine = new TestEngine(Fixtures.Config());
        var input = Fixtures.WebTcp().Payload(new byte[2000]).L4Checksum(ChecksumMode.Partial).Build();
        var vnet = new VnetHeader { Flags = VnetHeader.FlagNeedsChecksum, GsoType = VnetHeader.GsoTcpV4 | VnetHeader.GsoEcn, GsoSize = 1000, ChecksumStart = 34, ChecksumOffset = 16 };

        var result = engine.Send(input, new FrameMeta { Vnet = vnet });

        Assert.Equal(input[12..], result.Output![12..]);
        Assert.True(result.OutputMeta.Vnet.NeedsChecksum);
    }

    [Fact]
    public void Send_CountersPerServiceAndBackend_AreKept()
    {
        var engine = new TestEngine(Fixtures.Config());
        var frame = Fixtures.WebTcp().Build();

        engine.Send(frame);
        engine.Send(frame);

        var web = engine.Service("web");
        var backend = web.Backends[0];
        Assert.Equal(2, engine.Counters.ServicePackets[web.Id]);
        Assert.Equal(2L * frame.Length, engine.Counters.ServiceBytes[web.Id]);
        Assert.Equal(1, engine.Counters.ServiceFlows[web.Id]);
        Assert.Equal(2, engine.Counters.BackendPackets[backend.Id]);
        Assert.Equal(2L * frame.Length, engine.Counters.BackendBytes[backend.Id]);
        Assert.Equal(1, engine.Counters.BackendFlows[backend.Id]);
        Assert.Equal(2, engine.Counters.TxFrames);
    }

    [Fact]
    public void Send_BackendOnOtherInterface_LeavesThroughThatPortWithItsMac()
    {
        var eth1Mac = Fixtures.Eth1.Mac;
        var config = Fixtures.Config() with
        {
            Services =
            [
                Fixtures.Service("split", Fixtures.WebVip, 80, TransportProtocol.Tcp,
                    Fixtures.Backend("s-1", "10.1.0.1", MacAddress.Parse("02:00:00:00:05:01"))) with { BackendInterface = "eth1" },
            ],
        };
        var engine = new TestEngine(config, [.. Fixtures.Interfaces, Fixtures.Eth1]);

        var result = engine.Send(Fixtures.WebTcp().Build());

        Assert.Equal(1, result.OutputMeta.EgressInterface);
        Assert.Single(engine.Transmitters[1].Sent);
        Assert.Empty(engine.Transmitters[0].Sent);
        Assert.Equal(eth1Mac, MacAddress.Read(result.Output.AsSpan(6)));
    }

    private sealed class RefusingTransmitter : IFrameTransmitter
    {
        private int _queued;
        public void Enqueue(Span<byte> frame, in FrameMeta meta) => _queued++;
        public int Flush()
        {
            var n = _queued;
            _queued = 0;
            return n;
        }
    }

    [Fact]
    public void EndOfBatch_TransmitterRefuses_CountsTransmitFailed()
    {
        var engine = new TestEngine(Fixtures.Config());
        var port = new InMemoryFramePort();
        var worker = new ForwardingWorker(engine.Processor, engine.State, [port], [new RefusingTransmitter()], () => engine.Clock.NowMs);
        port.Enqueue(Fixtures.WebTcp().Build());
        port.Enqueue(Fixtures.WebTcp(40001).Build());

        Assert.Equal(2, worker.RunOnce());

        Assert.Equal(0, engine.Counters.TxFrames);
        Assert.Equal(2, engine.Counters.Drops[(int)DropReason.TransmitFailed]);
    }

    /// <summary>Fragmentation-needed from a router on the reply path, quoting the reply (VIP:port → client), to the VIP.</summary>
    private static byte[] FragmentationNeededFor(int client)
    {
        var flow = PoolFrame(client);
        var clientIp = FrameBuilder.SourceIp(flow);
        var clientPort = BinaryPrimitives.ReadUInt16BigEndian(flow.AsSpan(34));
        var reply = FrameBuilder.Tcp(Fixtures.PoolVip, Fixtures.PoolPort, clientIp, clientPort).Flags(TcpFlags.Ack).DontFragment().Payload(new byte[1400]).Build();
        return FrameBuilder.Icmp("203.0.113.1", Fixtures.PoolVip).IcmpHeader(3, 4, 0, 1400).Payload(reply.AsSpan(14, 28).ToArray()).Build();
    }

    /// <summary>PMTU discovery through DR: the error reaches the real server that serves the flow (it sent the reply
    /// the error is about), by the flow table first; only MACs change.</summary>
    [Fact]
    public void IcmpErrorToVip_QuotingAFlowsReply_GoesToThatFlowsBackend()
    {
        var engine = new TestEngine(Fixtures.Config());
        for (var client = 0; client < 200; client++)
        {
            var backend = SendPool(engine, 1, client, TcpFlags.Syn)[0];
            var error = FragmentationNeededFor(client);

            var r = engine.Send(error);

            Assert.Equal(Verdict.Transmit, r.Verdict);
            Assert.Equal(backend, engine.BackendOf(r.Output!, "pool"));
            Assert.Equal(error.AsSpan(12).ToArray(), r.Output!.AsSpan(12).ToArray());
        }
    }

    [Fact]
    public void IcmpErrorToVip_FlowRemembered_FollowsTheTableNotMaglev()
    {
        var engine = new TestEngine(Fixtures.Config());
        var client = Enumerable.Range(0, 100).First(c => SendPool(engine, 1, c, TcpFlags.Syn)[0] == "pool-2");
        engine.Reload(Fixtures.Config(Fixtures.Pool(AllPool, i => i == 2 ? 0 : 100)));

        Assert.Equal("pool-2", engine.BackendOf(engine.Send(FragmentationNeededFor(client)).Output!, "pool"));
    }

    [Fact]
    public void IcmpToVip_EchoOrQuoteOfNoService_IsTheKernels()
    {
        var engine = new TestEngine(Fixtures.Config());
        var echo = FrameBuilder.Icmp("203.0.113.1", Fixtures.PoolVip).IcmpHeader(8, 0, 1, 1).Payload("ping").Build();
        Assert.Equal(Verdict.Pass, engine.Send(echo).Verdict);
        var other = FrameBuilder.Tcp(Fixtures.PoolVip, 9999, "198.51.100.1", 20000).Flags(TcpFlags.Ack).Build();
        var error = FrameBuilder.Icmp("203.0.113.1", Fixtures.PoolVip).IcmpHeader(3, 4, 0, 1400).Payload(other.AsSpan(14, 28).ToArray()).Build();
        Assert.Equal(Verdict.Pass, engine.Send(error).Verdict);
        var cut = FrameBuilder.Icmp("203.0.113.1", Fixtures.PoolVip).IcmpHeader(3, 4, 0, 1400).Payload(other.AsSpan(14, 10).ToArray()).Build();
        Assert.Equal(DropReason.IcmpTruncated, engine.Send(cut).Drop);
    }

    /// <summary>An ACK flood from random sources: each unknown flow is remembered as embryonic only, so however many
    /// there are, a drained backend's confirmed flow (which only the table keeps there) stays.</summary>
    [Fact]
    public void AckFlood_DoesNotEvictAConfirmedFlowOfADrainedBackend()
    {
        var config = Fixtures.Config() with { FlowTableSize = 1024 };
        var engine = new TestEngine(config);
        var client = Enumerable.Range(0, 100).First(c => SendPool(engine, 1, c, TcpFlags.Syn)[0] == "pool-2");
        SendPool(engine, 1, client);
        engine.Reload(Fixtures.Config(Fixtures.Pool(AllPool, i => i == 2 ? 0 : 100)) with { FlowTableSize = 1024 });

        for (var i = 0; i < 20_000; i++) engine.Send(FrameBuilder.Tcp($"192.0.{i / 250 % 250}.{i % 250 + 1}", (ushort)(1024 + i), Fixtures.PoolVip, Fixtures.PoolPort)
            .Flags(TcpFlags.Ack).Build());

        Assert.True(engine.Flows.Evictions > 10_000);
        Assert.Equal("pool-2", SendPool(engine, 1, client)[0]);
    }
}
