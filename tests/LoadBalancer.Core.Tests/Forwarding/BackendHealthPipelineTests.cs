using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding;

/// <summary>What health, intent and backup status do to new and existing flows, through the real pipeline.</summary>
public sealed class BackendHealthPipelineTests
{
    private const int FlowCount = 400;

    private static BalancerConfig PoolConfig(BackendDownAction onDown = BackendDownAction.Reassign, AllDownAction allDown = AllDownAction.Drop,
        params int[] backups)
    {
        var pool = Fixtures.Pool([1, 2, 3, 4]);
        pool = pool with
        {
            OnBackendDown = onDown,
            WhenAllDown = allDown,
            Health = new HealthCheckConfig { Type = HealthCheckType.Tcp },
            Backends = pool.Backends.Select(b => b with { Backup = backups.Contains(int.Parse(b.Name[5..])) }).ToArray(),
        };
        return Fixtures.Config(pool);
    }

    private static Func<ServiceConfig, BackendConfig, BackendRuntime> With(Func<string, BackendHealth> health, Func<string, BackendIntent>? intent = null) =>
        (s, b) => new BackendRuntime(s.Name == "pool" ? health(b.Name) : BackendHealth.Healthy, s.Name == "pool" && intent is not null ? intent(b.Name) : BackendIntent.Active, b.Weight);

    private static Dictionary<string, int> Spread(TestEngine engine, byte[][] flows, out Dictionary<int, string> byFlow, out int dropped)
    {
        var counts = new Dictionary<string, int>();
        byFlow = new Dictionary<int, string>();
        dropped = 0;
        for (var i = 0; i < flows.Length; i++)
        {
            var r = engine.Send(flows[i]);
            if (r.Verdict != Verdict.Transmit)
            {
                dropped++;
                continue;
            }
            var name = engine.BackendOf(r.Output!, "pool");
            byFlow[i] = name;
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }
        return counts;
    }

    [Fact]
    public void NewFlows_UnknownBackends_GetNoTrafficUntilHealthy()
    {
        var engine = new TestEngine(PoolConfig());
        engine.Reload(engine.Config, With(_ => BackendHealth.Unknown));
        var flows = Fixtures.PoolFlows(50, TcpFlags.Syn);
        Spread(engine, flows, out _, out var dropped);
        Assert.Equal(50, dropped);
        Assert.True(engine.Service("pool").AllDown);

        engine.Reload(engine.Config, With(name => name == "pool-2" ? BackendHealth.Healthy : BackendHealth.Unknown));
        var counts = Spread(engine, flows, out _, out dropped);
        Assert.Equal(0, dropped);
        Assert.Equal(["pool-2"], counts.Keys);
    }

    [Fact]
    public void ExistingFlows_BackendTurnsUnhealthy_ReassignMovesThemAndNewFlowsAvoidIt()
    {
        var engine = new TestEngine(PoolConfig(BackendDownAction.Reassign));
        engine.Reload(engine.Config, With(_ => BackendHealth.Healthy));
        var flows = Fixtures.PoolFlows(FlowCount);
        Spread(engine, flows, out var before, out _);

        engine.Reload(engine.Config, With(name => name == "pool-1" ? BackendHealth.Unhealthy : BackendHealth.Healthy));
        var counts = Spread(engine, flows, out var after, out var dropped);

        Assert.Equal(0, dropped);
        Assert.DoesNotContain("pool-1", counts.Keys);
        // Flows that were not on pool-1 stay where they were.
        foreach (var (flow, backend) in before)
            if (backend != "pool-1") Assert.Equal(backend, after[flow]);
    }

    [Fact]
    public void ExistingFlows_BackendTurnsUnhealthy_DropDropsOnlyItsFlows()
    {
        var engine = new TestEngine(PoolConfig(BackendDownAction.Drop));
        engine.Reload(engine.Config, With(_ => BackendHealth.Healthy));
        var flows = Fixtures.PoolFlows(FlowCount);
        Spread(engine, flows, out var before, out _);
        var onPool1 = before.Values.Count(v => v == "pool-1");
        Assert.True(onPool1 > 0);

        engine.Reload(engine.Config, With(name => name == "pool-1" ? BackendHealth.Unhealthy : BackendHealth.Healthy));
        var downDrops = engine.Counters.Drops[(int)DropReason.BackendDown];
        Spread(engine, flows, out var after, out var dropped);

        Assert.Equal(onPool1, dropped);
        Assert.Equal(onPool1, engine.Counters.Drops[(int)DropReason.BackendDown] - downDrops);
        Assert.DoesNotContain("pool-1", after.Values);
    }

    [Fact]
    public void ExistingFlows_BackendTurnsUnhealthy_KeepKeepsThemThere()
    {
        var engine = new TestEngine(PoolConfig(BackendDownAction.Keep));
        engine.Reload(engine.Config, With(_ => BackendHealth.Healthy));
        var flows = Fixtures.PoolFlows(FlowCount);
        Spread(engine, flows, out var before, out _);

        engine.Reload(engine.Config, With(name => name == "pool-1" ? BackendHealth.Unhealthy : BackendHealth.Healthy));
        Spread(engine, flows, out var after, out _);
        Assert.Equal(before, after);

        // New flows avoid it all the same.
        var fresh = Spread(engine, Fixtures.PoolFlows(FlowCount * 2).Skip(FlowCount).ToArray(), out _, out _);
        Assert.DoesNotContain("pool-1", fresh.Keys);
    }

    [Fact]
    public void Draining_ExistingFlowsContinue_NewFlowsGoElsewhere()
    {
        var engine = new TestEngine(PoolConfig());
        engine.Reload(engine.Config, With(_ => BackendHealth.Healthy));
        var flows = Fixtures.PoolFlows(FlowCount);
        Spread(engine, flows, out var before, out _);

        engine.Reload(engine.Config, With(_ => BackendHealth.Healthy, name => name == "pool-3" ? BackendIntent.Draining : BackendIntent.Active));
        Spread(engine, flows, out var after, out _);
        Assert.Equal(before, after);
        var fresh = Spread(engine, Fixtures.PoolFlows(FlowCount * 2).Skip(FlowCount).ToArray(), out _, out _);
        Assert.DoesNotContain("pool-3", fresh.Keys);
    }

    [Fact]
    public void Backups_TakeOverOnlyWhenEveryNormalBackendIsDown_AndGiveBack()
    {
        var engine = new TestEngine(PoolConfig(backups: [3, 4]));
        // New connections in each phase: distinct 5-tuples (an existing flow rightly stays where it is).
        var phase = 0;
        byte[][] NewConnections() => Fixtures.PoolFlows(FlowCount * ++phase, TcpFlags.Syn).Skip(FlowCount * (phase - 1)).ToArray();

        engine.Reload(engine.Config, With(_ => BackendHealth.Healthy));
        Assert.Equal(new HashSet<string> { "pool-1", "pool-2" }, Spread(engine, NewConnections(), out _, out _).Keys.ToHashSet());

        engine.Reload(engine.Config, With(name => name is "pool-1" ? BackendHealth.Unhealthy : BackendHealth.Healthy));
        Assert.Equal(new HashSet<string> { "pool-2" }, Spread(engine, NewConnections(), out _, out _).Keys.ToHashSet());

        engine.Reload(engine.Config, With(name => name is "pool-1" or "pool-2" ? BackendHealth.Unhealthy : BackendHealth.Healthy));
        var onBackups = NewConnections();
        Assert.Equal(new HashSet<string> { "pool-3", "pool-4" }, Spread(engine, onBackups, out var backupFlows, out _).Keys.ToHashSet());

        engine.Reload(engine.Config, With(name => name is "pool-1" ? BackendHealth.Unhealthy : BackendHealth.Healthy));
        Assert.Equal(new HashSet<string> { "pool-2" }, Spread(engine, NewConnections(), out _, out _).Keys.ToHashSet());
        // Connections the backups took meanwhile stay on them (they are healthy): giving back breaks nobody.
        Spread(engine, onBackups, out var stillOnBackups, out _);
        Assert.Equal(backupFlows, stillOnBackups);
    }

    [Fact]
    public void AllDown_DropPolicy_DropsNewFlowsAsNoBackend()
    {
        var engine = new TestEngine(PoolConfig(allDown: AllDownAction.Drop));
        engine.Reload(engine.Config, With(_ => BackendHealth.Unhealthy));
        var before = engine.Counters.Drops[(int)DropReason.NoBackend];
        Spread(engine, Fixtures.PoolFlows(20, TcpFlags.Syn), out _, out var dropped);
        Assert.Equal(20, dropped);
        Assert.Equal(20, engine.Counters.Drops[(int)DropReason.NoBackend] - before);
    }

    [Fact]
    public void AllDown_UseAllPolicy_BalancesOverEveryActiveBackend()
    {
        var engine = new TestEngine(PoolConfig(allDown: AllDownAction.UseAll));
        engine.Reload(engine.Config, With(_ => BackendHealth.Unhealthy, name => name == "pool-4" ? BackendIntent.Draining : BackendIntent.Active));
        var counts = Spread(engine, Fixtures.PoolFlows(FlowCount, TcpFlags.Syn), out _, out var dropped);
        Assert.Equal(0, dropped);
        Assert.Equal(new HashSet<string> { "pool-1", "pool-2", "pool-3" }, counts.Keys.ToHashSet());
        Assert.True(engine.Service("pool").AllDown);
    }

    [Fact]
    public void TableWeights_FollowHealthIntentAndBackupRules()
    {
        var engine = new TestEngine(PoolConfig(backups: [4]));
        var snapshot = engine.Reload(engine.Config, (s, b) => b.Name switch
        {
            "pool-1" => new BackendRuntime(BackendHealth.Healthy, BackendIntent.Active, 50),
            "pool-2" => new BackendRuntime(BackendHealth.Healthy, BackendIntent.Draining, 100),
            "pool-3" => new BackendRuntime(BackendHealth.Unknown, BackendIntent.Active, 100),
            _ => new BackendRuntime(BackendHealth.Healthy, BackendIntent.Active, 100),
        });
        var pool = snapshot.Services.Single(s => s.Name == "pool");
        Assert.Equal([50, 0, 0, 0], pool.Backends.Select(b => b.TableWeight));
        Assert.False(pool.AllDown);
    }
}
