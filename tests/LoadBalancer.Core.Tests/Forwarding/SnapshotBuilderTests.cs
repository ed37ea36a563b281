using LoadBalancer.Core.Forwarding.DirectRouting;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding;

public class SnapshotBuilderTests
{
    private static SnapshotBuilder NewBuilder()
    {
        var interfaces = new InterfacePlan();
        interfaces.Add(Fixtures.InterfaceName, Fixtures.InterfaceMac, Ipv4.Parse(Fixtures.InterfaceIp));
        return new SnapshotBuilder(new NeighborTable(), interfaces);
    }

    [Fact]
    public void Build_Config_MapsServicesAndBackends()
    {
        var builder = NewBuilder();

        var snapshot = builder.Build(Fixtures.Config());

        Assert.Equal(1, snapshot.Version);
        Assert.Equal(BalancerConfig.DefaultHashSeed, snapshot.HashSeed);
        Assert.Equal(5, snapshot.Services.Length);
        var pool = snapshot.FindService(Ipv4.Parse(Fixtures.PoolVip), IpProtocols.Tcp, Fixtures.PoolPort);
        Assert.NotNull(pool);
        Assert.Equal("pool", pool.Name);
        Assert.Equal(4, pool.Backends.Length);
        Assert.Equal(MaglevTableSize, pool.Table.Size);
        Assert.Same(DirectRoutingForwarder.Instance, pool.Forwarder);
        Assert.Null(snapshot.FindService(Ipv4.Parse(Fixtures.PoolVip), IpProtocols.Udp, Fixtures.PoolPort));
        Assert.True(snapshot.IsVip(Ipv4.Parse(Fixtures.DarkVip)));
        Assert.False(snapshot.IsVip(Ipv4.Parse(Fixtures.InterfaceIp)));
        Assert.True(snapshot.Services.Single(s => s.Name == "drained").Table.IsEmpty);
    }

    private const int MaglevTableSize = Core.Scheduling.MaglevTable.DefaultSize;

    [Fact]
    public void Build_Twice_KeepsBackendIdsByNameAndBumpsVersion()
    {
        var builder = NewBuilder();
        var first = builder.Build(Fixtures.Config());

        var second = builder.Build(Fixtures.Config(Fixtures.Pool([3, 1, 5])));

        Assert.Equal(2, second.Version);
        var oldPool = first.Services.Single(s => s.Name == "pool");
        var newPool = second.Services.Single(s => s.Name == "pool");
        foreach (var b in newPool.Backends.Where(b => b.Name != "pool-5"))
            Assert.Equal(oldPool.Backends.Single(o => o.Name == b.Name).Id, b.Id);
        var allOldIds = first.Services.SelectMany(s => s.Backends).Select(b => b.Id).ToHashSet();
        Assert.DoesNotContain(newPool.Backends.Single(b => b.Name == "pool-5").Id, allOldIds);
    }

    [Fact]
    public void BackendById_RemovedBackend_ReturnsNull()
    {
        var builder = NewBuilder();
        var first = builder.Build(Fixtures.Config());
        var removedId = first.Services.Single(s => s.Name == "pool").Backends.Single(b => b.Name == "pool-2").Id;

        var second = builder.Build(Fixtures.Config(Fixtures.Pool([1, 3, 4])));
        var pool = second.Services.Single(s => s.Name == "pool");

        Assert.Null(pool.BackendById(removedId));
        Assert.Null(pool.BackendById(-1));
        Assert.Null(pool.BackendById(100_000));
        Assert.Equal("pool-3", pool.BackendById(pool.Backends[1].Id)!.Name);
    }

    [Fact]
    public void BackendId_SameNameInOtherService_IsDistinct()
    {
        var builder = NewBuilder();

        Assert.NotEqual(builder.BackendId("a", "x"), builder.BackendId("b", "x"));
        Assert.Equal(builder.BackendId("a", "x"), builder.BackendId("a", "x"));
    }

    [Fact]
    public void Build_EffectiveWeight_OverridesConfiguredWeight()
    {
        var builder = NewBuilder();

        var snapshot = builder.Build(Fixtures.Config(), (s, b) => SnapshotBuilder.DefaultRuntime(s, b) with { Weight = b.Name == "pool-1" ? 0 : b.Weight });

        var pool = snapshot.Services.Single(s => s.Name == "pool");
        Assert.Equal(0, pool.Backends[0].Weight);
        Assert.DoesNotContain(0, pool.Table.Entries.ToArray());
    }

    [Fact]
    public void Build_UnknownInterface_Throws()
    {
        var builder = NewBuilder();
        var config = Fixtures.Config() with
        {
            Services = [Fixtures.Service("x", "10.9.9.9", 1, TransportProtocol.Tcp) with { Interface = "nope" }],
        };

        Assert.Throws<InvalidOperationException>(() => builder.Build(config));
    }

    [Fact]
    public void DataPlaneStatePublish_NewSnapshot_IsCurrent()
    {
        var builder = NewBuilder();
        var state = new DataPlaneState(builder.Build(Fixtures.Config()));
        var next = builder.Build(Fixtures.Config());

        state.Publish(next);

        Assert.Same(next, state.Current);
    }
}

public class SnapshotBuilderLimitsTests
{
    [Fact]
    public void Build_BackendIdBeyondCounterArrays_ThrowsAndOldSnapshotKeepsForwarding()
    {
        // Ids are never reused, so a long-lived process that renames backends across reloads keeps
        // allocating new ones; the packet path indexes the workers' fixed-size counter arrays by id.
        var engine = new TestEngine(Fixtures.Config());
        var current = engine.State.Current;
        for (var i = 0; i < WorkerCounters.MaxBackendIds; i++) engine.Builder.BackendId("pool", $"old-{i}");
        var renamed = Fixtures.Config(Fixtures.Service("pool", Fixtures.PoolVip, Fixtures.PoolPort,
            TransportProtocol.Tcp, Fixtures.Backend("renamed", "10.0.2.9", Fixtures.PoolBackendMac(9))));

        Assert.Throws<InvalidOperationException>(() => engine.Reload(renamed));

        Assert.Same(current, engine.State.Current);
        var result = engine.Send(FrameBuilder.Tcp(Fixtures.ClientIp, 1, Fixtures.PoolVip, Fixtures.PoolPort).Build());
        Assert.Equal(Core.IO.Verdict.Transmit, result.Verdict);
    }

    [Fact]
    public void Build_MoreServicesThanCounters_Throws()
    {
        var engine = new TestEngine(Fixtures.Config());
        var services = Enumerable.Range(0, WorkerCounters.MaxServices + 1)
            .Select(i => Fixtures.Service($"s{i}", "10.0.0.100", (ushort)(1000 + i), TransportProtocol.Tcp))
            .ToArray();

        Assert.Throws<InvalidOperationException>(() => engine.Reload(Fixtures.Config() with { Services = services }));
    }

    [Fact]
    public void Build_ExactlyMaxServices_Succeeds()
    {
        var engine = new TestEngine(Fixtures.Config());
        var services = Enumerable.Range(0, WorkerCounters.MaxServices)
            .Select(i => Fixtures.Service($"s{i}", "10.0.0.100", (ushort)(1000 + i), TransportProtocol.Tcp))
            .ToArray();

        var snapshot = engine.Reload(Fixtures.Config() with { Services = services });

        Assert.Equal(WorkerCounters.MaxServices, snapshot.Services.Length);
    }
}
