using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests;

/// <summary><c>lb flow</c> and <c>lb flows</c> behind the control socket: frames sent through a real engine on the
/// fake platform, then the workers' tables read the way the control thread reads them.</summary>
public sealed class FlowLookupTests
{
    private static readonly uint Client = Ipv4.Parse(Fixtures.ClientIp);

    private static FlowAnswer Find(TestEngine engine, string service, string client, ushort port) =>
        FlowLookup.Find(engine.Engine, engine.State.Current, engine.Service(service), Ipv4.Parse(client), port);

    private static byte[] PoolSyn(ushort port) =>
        FrameBuilder.Tcp(Fixtures.ClientIp, port, Fixtures.PoolVip, Fixtures.PoolPort).Flags(TcpFlags.Syn).Build();

    [Fact]
    public void Find_FlowCreatedBySyn_FoundInTheFlowTableWithItsBackend()
    {
        var engine = new TestEngine(Fixtures.Config());
        var sent = engine.Send(PoolSyn(40001));
        engine.Clock.Advance(25);

        var answer = Find(engine, "pool", Fixtures.ClientIp, 40001);

        Assert.Equal(Verdict.Transmit, sent.Verdict);
        Assert.Equal(FlowSource.Flow, answer.Source);
        Assert.Equal(engine.BackendOf(sent.Output!, "pool"), answer.Backend);
        Assert.Null(answer.Slot);
        Assert.Equal(0, answer.Worker);
        Assert.Equal("syn", answer.State);
        Assert.Equal(25, answer.IdleMs);
    }

    [Fact]
    public void Find_UnseenPort_PredictsTheMaglevSlotsBackend_WhichTheSynThenGets()
    {
        var engine = new TestEngine(Fixtures.Config());
        var service = engine.Service("pool");
        for (ushort port = 41000; port < 41040; port++)
        {
            var predicted = Find(engine, "pool", Fixtures.ClientIp, port);
            var key = new FlowKey(IpProtocols.Tcp, Client, service.Vip, port, service.Port);
            var hash = FlowHash.Compute(key, engine.State.Current.HashSeed);

            var sent = engine.Send(PoolSyn(port));

            Assert.Equal(FlowSource.Maglev, predicted.Source);
            Assert.Equal((int)(hash % (uint)service.Table.Size), predicted.Slot);
            Assert.Equal(service.Backends[service.Table.Lookup(hash)].Name, predicted.Backend);
            Assert.Equal(engine.BackendOf(sent.Output!, "pool"), predicted.Backend);
            Assert.Equal(FlowSource.Flow, Find(engine, "pool", Fixtures.ClientIp, port).Source);
        }
    }

    [Theory]
    [InlineData(SchedulerKind.Wlc, FlowSource.Wlc)]
    [InlineData(SchedulerKind.Wrr, FlowSource.Wrr)]
    public void Find_UnseenPort_UnderWlcOrWrr_PredictsTheSchedulersPick_WhichTheSynThenGets_WithoutTakingWrrsTurn(SchedulerKind scheduler, FlowSource source)
    {
        var engine = new TestEngine(Fixtures.Config(Fixtures.Pool(Enumerable.Range(1, 3), i => i * 100) with { Scheduler = scheduler }));
        for (ushort port = 42000; port < 42060; port++)
        {
            var predicted = Find(engine, "pool", Fixtures.ClientIp, port);
            var again = Find(engine, "pool", Fixtures.ClientIp, port); // asking twice changes nothing

            var sent = engine.Send(PoolSyn(port));

            Assert.Equal(source, predicted.Source);
            Assert.Null(predicted.Slot);
            Assert.Equal(predicted.Backend, again.Backend);
            Assert.Equal(engine.BackendOf(sent.Output!, "pool"), predicted.Backend);
        }
    }

    [Fact]
    public void Find_EveryBackendFull_Full()
    {
        var pool = Fixtures.Pool(Enumerable.Range(1, 1));
        var engine = new TestEngine(Fixtures.Config(pool with { Backends = [pool.Backends[0] with { MaxConnections = 1 }] }));
        engine.Send(PoolSyn(43000));

        var answer = Find(engine, "pool", Fixtures.ClientIp, 43001);

        Assert.Equal((FlowSource.Full, null), (answer.Source, answer.Backend));
        Assert.Equal("full", FlowAnswer.SourceName(answer.Source));
    }

    [Fact]
    public void Find_ExpiredFlow_IsPredictedAgain_AndLeftInTheTableForItsWorker()
    {
        var engine = new TestEngine(Fixtures.Config());
        engine.Send(PoolSyn(40002));
        engine.Clock.Advance(engine.Config.FlowTimeouts.ToFlowTimeouts().For(FlowState.TcpSyn) + 1);

        Assert.Equal(FlowSource.Maglev, Find(engine, "pool", Fixtures.ClientIp, 40002).Source);
        Assert.Equal(1, CountOccupied(engine.Flows));
    }

    private static int CountOccupied(FlowTable<FlowKey> table)
    {
        var n = 0;
        for (var i = 0; i < table.Capacity; i++)
            if (table.Slot(i).State != FlowState.Free) n++;
        return n;
    }

    [Fact]
    public void Find_EmptyTable_None()
    {
        var engine = new TestEngine(Fixtures.Config());

        var answer = Find(engine, "drained", Fixtures.ClientIp, 40003);

        Assert.Equal(new FlowAnswer(null, FlowSource.None, null, 0), answer);
    }

    [Fact]
    public void Find_OnlyTheBackupUsable_Backup()
    {
        var pool = Fixtures.Service("pool", Fixtures.PoolVip, Fixtures.PoolPort, TransportProtocol.Tcp,
            Fixtures.Backend("main", Fixtures.PoolBackendIp(1), Fixtures.PoolBackendMac(1), weight: 0),
            Fixtures.Backend("spare", Fixtures.PoolBackendIp(2), Fixtures.PoolBackendMac(2)) with { Backup = true });
        var engine = new TestEngine(Fixtures.Config(pool));

        var answer = Find(engine, "pool", Fixtures.ClientIp, 40004);
        var sent = engine.Send(PoolSyn(40004));

        Assert.Equal(FlowSource.Backup, answer.Source);
        Assert.Equal("spare", answer.Backend);
        Assert.Equal("spare", engine.BackendOf(sent.Output!, "pool"));
    }

    [Fact]
    public void Find_NatSession_FoundWithItsBackendAndState()
    {
        var engine = NatFixture.Engine();
        engine.Send(NatFixture.ClientTcp(42001, TcpFlags.Syn).Build());
        engine.Send(NatFixture.ClientTcp(42001, TcpFlags.Ack).Build());

        var answer = Find(engine, "web", NatFixture.Client, 42001);
        var unseen = Find(engine, "web", NatFixture.Client, 42002);

        Assert.Equal(new FlowAnswer("rs1", FlowSource.Flow, null, 0, "established", 0), answer);
        Assert.Equal(FlowSource.Maglev, unseen.Source);
        Assert.Equal("rs1", unseen.Backend);
    }

    [Fact]
    public void Find_TwoWorkers_TheFanoutsWorker()
    {
        using var engine = EngineBuilder.Build(Fixtures.Config() with { Workers = 2 }, new FakePlatform(Fixtures.Interfaces).Platform);
        var service = engine.State.Current.Services.Single(s => s.Name == "pool");
        var workers = Enumerable.Range(40000, 64)
            .Select(p => FlowLookup.Find(engine, engine.State.Current, service, Client, (ushort)p).Worker).ToList();

        Assert.Equal(Enumerable.Range(40000, 64).Select(p => WorkerFanout.Worker(Client, (ushort)p, 2)), workers);
        Assert.Contains(0, workers);
        Assert.Contains(1, workers);
    }

    [Fact]
    public void List_DrFlowsOfTheService_WithBackendFilterAndLimit()
    {
        var engine = new TestEngine(Fixtures.Config());
        var backends = new Dictionary<string, string>();
        for (ushort port = 43000; port < 43020; port++)
            backends[$"{Fixtures.ClientIp}:{port}"] = engine.BackendOf(engine.Send(PoolSyn(port)).Output!, "pool");
        engine.Send(Fixtures.WebTcp(43100).Flags(TcpFlags.Syn).Build());
        engine.Clock.Advance(7);

        var all = FlowLookup.List(engine.Engine, engine.Service("pool"), null, 1000, out var total);
        var one = backends.Values.First();
        var only = FlowLookup.List(engine.Engine, engine.Service("pool"), one, 1000, out var onlyTotal);
        var cut = FlowLookup.List(engine.Engine, engine.Service("pool"), null, 5, out var cutTotal);

        Assert.Equal(20, total);
        Assert.Equal(backends, all.ToDictionary(f => f.Client, f => f.Backend));
        Assert.All(all, f => Assert.Equal(("syn", 7L, 0), (f.State, f.IdleMs, f.Worker)));
        Assert.Equal(backends.Count(b => b.Value == one), onlyTotal);
        Assert.All(only, f => Assert.Equal(one, f.Backend));
        Assert.Equal((5, 20), (cut.Count, cutTotal));
    }

    [Fact]
    public void List_NatSessions_OfTheServiceOnly()
    {
        var engine = NatFixture.Engine();
        engine.Send(NatFixture.ClientTcp(42010, TcpFlags.Syn).Build());
        engine.Send(NatFixture.ClientUdp(42011).Build());

        var web = FlowLookup.List(engine.Engine, engine.Service("web"), null, 1000, out _);
        var echo = FlowLookup.List(engine.Engine, engine.Service("echo"), null, 1000, out _);

        Assert.Equal([new FlowListing($"{NatFixture.Client}:42010", "rs1", "syn", 0, 0)], web);
        Assert.Equal([new FlowListing($"{NatFixture.Client}:42011", "e1", "udp", 0, 0)], echo);
    }

    [Fact]
    public void Find_ClusterIp_AcceptedFlowIsTheLocalNodes_UnseenOnesTheBucketOwners()
    {
        var engine = ClusterFixture.Engine(1, new FakeClock());
        var mine = ClusterFixture.Flows(1).First();
        var theirs = ClusterFixture.Flows(1, owned: false).First();
        var owner = engine.Cluster("web").Table.OwnerOf(ClusterFixture.FlowHash(theirs));
        var sent = engine.Send(ClusterFixture.Tcp(mine, TcpFlags.Syn));

        var accepted = Find(engine, "web", ClusterFixture.ClientIp(mine), ClusterFixture.ClientPort(mine));
        var elsewhere = Find(engine, "web", ClusterFixture.ClientIp(theirs), ClusterFixture.ClientPort(theirs));

        Assert.Equal(Verdict.Transmit, sent.Verdict);
        Assert.Equal((ClusterFixture.NodeName(1), FlowSource.Flow), (accepted.Backend, accepted.Source));
        Assert.Equal((ClusterFixture.NodeName(owner), FlowSource.Maglev), (elsewhere.Backend, elsewhere.Source));
        Assert.Equal((int)(ClusterFixture.FlowHash(theirs) % (uint)engine.Cluster("web").Table.Size), elsewhere.Slot);
    }

    [Fact]
    public void Find6_ClusterIp6_AcceptedFlowIsTheLocalNodes_UnseenOnesTheBucketOwnersByTheIpv6OwnershipHash()
    {
        var engine = ClusterFixture.Engine6(1, new FakeClock());
        var mine = ClusterFixture.Flows6(1).First();
        var theirs = ClusterFixture.Flows6(1, owned: false).First();
        var owner = engine.Cluster("web6").Table.OwnerOf(ClusterFixture.FlowHash6(theirs));
        var sent = engine.Send(ClusterFixture.Tcp6(mine, TcpFlags.Syn));
        FlowAnswer Find6(int i) =>
            FlowLookup.Find6(engine.Engine, engine.State.Current, engine.Service("web6"), Ipv6.Parse(ClusterFixture.ClientIp6(i)), ClusterFixture.ClientPort(i));

        var accepted = Find6(mine);
        var elsewhere = Find6(theirs);

        Assert.Equal(Verdict.Transmit, sent.Verdict);
        Assert.Equal((ClusterFixture.NodeName(1), FlowSource.Flow), (accepted.Backend, accepted.Source));
        Assert.Equal((ClusterFixture.NodeName(owner), FlowSource.Maglev), (elsewhere.Backend, elsewhere.Source));
        Assert.Equal((int)(ClusterFixture.FlowHash6(theirs) % (uint)engine.Cluster("web6").Table.Size), elsewhere.Slot);
    }
}
