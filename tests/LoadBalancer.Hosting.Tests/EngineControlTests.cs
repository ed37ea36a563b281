using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.Core.Model;
using LoadBalancer.Health;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests;

/// <summary>The control plane without root: health results, operator commands and CLUSTERIP membership changes
/// turn into new snapshots (or, when nothing changed, none).</summary>
public class EngineControlTests
{
    private static Engine Engine(BalancerConfig? config = null, FakeClock? clock = null, IReadOnlyList<TestInterface>? interfaces = null) =>
        EngineBuilder.Build(config ?? Fixtures.Config(), new FakePlatform(interfaces ?? Fixtures.Interfaces).Platform,
            new EngineOptions { ClockMs = () => (clock ?? new FakeClock()).NowMs });

    private static HealthReport Report(string service, string backend, BackendHealth health, bool ok = false) =>
        new(service, backend, health, ok, ok ? "tcp connect ok" : "tcp connect refused", DateTimeOffset.UnixEpoch, 2, 2, Changed: true, Reason: null);

    private static BackendSnapshot Backend(Engine engine, string service, string backend) =>
        engine.State.Current.Services.Single(s => s.Name == service).Backends.Single(b => b.Name == backend);

    [Fact]
    public void ApplyHealth_Unhealthy_RebuildsWithoutTheBackend_AndHealthyAgainBringsItBack()
    {
        using var engine = Engine();
        var before = engine.State.Current.Version;

        var down = engine.Control.ApplyHealth(Report("pool", "pool-2", BackendHealth.Unhealthy));

        Assert.Equal(new ControlResult(true, null), down);
        Assert.Equal(before + 1, engine.State.Current.Version);
        Assert.Equal(BackendHealth.Unhealthy, Backend(engine, "pool", "pool-2").Health);
        Assert.Equal(0, Backend(engine, "pool", "pool-2").TableWeight);
        var pool = engine.State.Current.Services.Single(s => s.Name == "pool");
        Assert.DoesNotContain(Array.IndexOf(pool.Backends, Backend(engine, "pool", "pool-2")), pool.Table.Entries.ToArray());

        engine.Control.ApplyHealth(Report("pool", "pool-2", BackendHealth.Healthy, ok: true));

        Assert.Equal(100, Backend(engine, "pool", "pool-2").TableWeight);
        Assert.Equal(before + 2, engine.State.Current.Version);
    }

    [Fact]
    public void ApplyHealth_SameHealth_RecordsTheCheckWithoutARebuild()
    {
        using var engine = Engine();
        var before = engine.State.Current;

        var result = engine.Control.ApplyHealth(Report("web", "web-1", BackendHealth.Healthy, ok: true));

        Assert.False(result.Changed);
        Assert.Same(before, engine.State.Current);
        Assert.Equal("tcp connect ok", engine.Backends.Get("web", "web-1")!.Value.Last!.Detail);
    }

    [Fact]
    public void ApplyHealth_UnknownBackend_RefusedWithoutARebuild()
    {
        using var engine = Engine();
        var before = engine.State.Current;

        var result = engine.Control.ApplyHealth(Report("web", "nope", BackendHealth.Unhealthy));

        Assert.Equal("no backend nope in service web", result.Error);
        Assert.Same(before, engine.State.Current);
    }

    [Fact]
    public void SetIntent_DrainThenEnable_TableWeightFollows_AndRepeatingChangesNothing()
    {
        using var engine = Engine();

        var drain = engine.Control.SetIntent("pool", "pool-1", BackendIntent.Draining);
        Assert.True(drain.Changed);
        Assert.Equal("pool/pool-1 draining: no new flows, existing flows continue", drain.Message);
        Assert.Equal(BackendIntent.Draining, Backend(engine, "pool", "pool-1").Intent);
        Assert.Equal(0, Backend(engine, "pool", "pool-1").TableWeight);
        var version = engine.State.Current.Version;

        Assert.False(engine.Control.SetIntent("pool", "pool-1", BackendIntent.Draining).Changed);
        Assert.Equal(version, engine.State.Current.Version);

        Assert.True(engine.Control.SetIntent("pool", "pool-1", BackendIntent.Active).Changed);
        Assert.Equal(100, Backend(engine, "pool", "pool-1").TableWeight);
    }

    [Fact]
    public void SetWeight_NewWeight_InTheTableAtOnce()
    {
        using var engine = Engine();

        var result = engine.Control.SetWeight("pool", "pool-3", 40);

        Assert.Equal(new ControlResult(true, null, "pool/pool-3 weight 40"), result);
        Assert.Equal(40, Backend(engine, "pool", "pool-3").Weight);
        Assert.Equal(40, Backend(engine, "pool", "pool-3").TableWeight);
        Assert.Equal("no backend x in service pool", engine.Control.SetWeight("pool", "x", 1).Error);
    }

    [Fact]
    public void ApplyHealth_AllPoolBackendsDown_ServiceAllDown()
    {
        using var engine = Engine();

        for (var i = 1; i <= Fixtures.PoolSize; i++) engine.Control.ApplyHealth(Report("pool", $"pool-{i}", BackendHealth.Unhealthy));

        var pool = engine.State.Current.Services.Single(s => s.Name == "pool");
        Assert.True(pool.AllDown);
        Assert.True(pool.Table.IsEmpty);
    }

    [Fact]
    public void ApplyHealth_ClusterNodeDiesAndReturns_TableAndTransitionFollowTheMembership()
    {
        var clock = new FakeClock();
        using var engine = Engine(ClusterFixture.Config(1, initial: BackendHealth.Healthy), clock,
            [new TestInterface("eth", ClusterFixture.NodeMac, FrameBuilder.Ip(ClusterFixture.NodeIp(1)))]);
        ClusterIpSettings Cluster() => ((ClusterIpForwarder)engine.State.Current.Services[0].Forwarder).Settings;
        var full = Cluster().Table;
        clock.Advance(5000);

        engine.Control.ApplyHealth(Report("web", ClusterFixture.NodeName(2), BackendHealth.Unhealthy));

        var without2 = Cluster();
        Assert.NotEqual(full.Digest, without2.Table.Digest);
        Assert.Equal(0, without2.Table.Share(2));
        Assert.True(without2.HasQuorum);
        Assert.Equal(clock.NowMs, without2.ChangedAtMs);
        // Node 1 takes over part of node 2's flows.
        Assert.Contains(ClusterFixture.Flows(2).Take(50), i => without2.Table.OwnerOf(ClusterFixture.FlowHash(i)) == 1);

        engine.Control.ApplyHealth(Report("web", ClusterFixture.NodeName(3), BackendHealth.Unhealthy));
        // One of three alive is no majority: the node takes nothing over, its table spans every node again.
        Assert.False(Cluster().HasQuorum);
        Assert.Equal(full.Digest, Cluster().Table.Digest);

        engine.Control.ApplyHealth(Report("web", ClusterFixture.NodeName(2), BackendHealth.Healthy, ok: true));
        engine.Control.ApplyHealth(Report("web", ClusterFixture.NodeName(3), BackendHealth.Healthy, ok: true));
        Assert.True(Cluster().HasQuorum);
        Assert.Equal(full.Digest, Cluster().Table.Digest);
    }
}
