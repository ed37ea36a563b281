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

    private static BalancerConfig With(params ServiceConfig[] services) => Fixtures.Config() with { Services = services };

    private static ServiceConfig Pool(string name, params BackendConfig[] backends) =>
        Fixtures.Service(name, Fixtures.PoolVip, Fixtures.PoolPort, TransportProtocol.Tcp, backends);

    [Fact]
    public void BackendId_SameNameInOtherService_IsDistinct_AndWeightKeepsIt()
    {
        var builder = NewBuilder();
        var x = Fixtures.Backend("x", "10.0.2.1", Fixtures.PoolBackendMac(1));

        var first = builder.Build(With(Pool("a", x), Pool("b", x) with { Port = 81 }));
        var reweighted = builder.Build(With(Pool("a", x with { Weight = 5 })));

        Assert.NotEqual(first.Services[0].Backends[0].Id, first.Services[1].Backends[0].Id);
        Assert.Equal(first.Services[0].Backends[0].Id, reweighted.Services[0].Backends[0].Id);
        Assert.Equal(first.Services[0].Backends[0].Id, builder.BackendId("a", x));
    }

    [Fact]
    public void BackendId_SameNameAtAnotherAddressOrPort_IsAnotherServer_AndTheOldOneGetsItsIdBack()
    {
        var builder = NewBuilder();
        var x = Fixtures.Backend("x", "10.0.2.1", Fixtures.PoolBackendMac(1));

        var original = builder.Build(With(Pool("a", x))).Services[0].Backends[0].Id;
        var moved = builder.Build(With(Pool("a", x with { Address = System.Net.IPAddress.Parse("10.0.2.2") }))).Services[0].Backends[0].Id;
        var otherPort = builder.Build(With(Pool("a", x with { Port = 8080 }))).Services[0].Backends[0].Id;
        var back = builder.Build(With(Pool("a", x))).Services[0].Backends[0].Id;

        Assert.NotEqual(original, moved);
        Assert.NotEqual(original, otherPort);
        Assert.Equal(original, back);
        Assert.Equal(-1, builder.BackendId("a", x with { Name = "never" }));
    }

    [Fact]
    public void ServiceId_StableForNameAndEndpoint_NewForAnotherEndpoint()
    {
        var builder = NewBuilder();
        var pool = Fixtures.Config().Services[0];

        var first = builder.Build(With(pool)).Services[0].Id;
        var emptied = builder.Build(With(pool with { Backends = [] })).Services[0].Id;
        var otherPort = builder.Build(With(pool with { Port = 8443 })).Services[0].Id;

        Assert.Equal(first, emptied);
        Assert.NotEqual(first, otherPort);
        Assert.Equal(first, builder.ServiceId(pool));
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
    public void Build_MoreBackendsThanIds_ThrowsAndOldSnapshotKeepsForwarding()
    {
        // The packet path indexes the workers' fixed-size counter arrays by id, so such a snapshot must never exist.
        var engine = new TestEngine(Fixtures.Config());
        var current = engine.State.Current;
        var backends = Enumerable.Range(0, WorkerCounters.MaxBackendIds + 1)
            .Select(i => Fixtures.Backend($"b{i}", $"10.{2 + i / 250}.{i % 250}.9", Fixtures.PoolBackendMac(9)))
            .ToArray();

        Assert.Throws<InvalidOperationException>(() => engine.Reload(With(Pool("pool", backends))));

        Assert.Same(current, engine.State.Current);
        var result = engine.Send(FrameBuilder.Tcp(Fixtures.ClientIp, 1, Fixtures.PoolVip, Fixtures.PoolPort).Build());
        Assert.Equal(Core.IO.Verdict.Transmit, result.Verdict);
    }

    [Fact]
    public void Build_ManyReloadsOfNewServices_ReuseRetiredIds()
    {
        // A long-lived process whose reloads keep adding and removing services must not run out of ids.
        var engine = new TestEngine(Fixtures.Config());
        for (var round = 0; round < 3 * WorkerCounters.MaxServices; round++)
        {
            var snapshot = engine.Reload(With(Fixtures.Service($"s{round}", "10.0.0.100", 1000, TransportProtocol.Tcp)));
            Assert.InRange(snapshot.Services[0].Id, 0, WorkerCounters.MaxServices - 1);
        }
    }

    private static BalancerConfig With(params ServiceConfig[] services) => Fixtures.Config() with { Services = services };

    private static ServiceConfig Pool(string name, params BackendConfig[] backends) =>
        Fixtures.Service(name, Fixtures.PoolVip, Fixtures.PoolPort, TransportProtocol.Tcp, backends);

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
