using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Packets;
using LoadBalancer.Health;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests.Reload;

/// <summary>A reload through the real engine over a fake platform: what survives, what the file overrides, what is
/// refused, and how a removed backend leaves.</summary>
public class EngineReloadTests
{
    // The pool is checked (tcp): a service without checks has healthy backends by configuration, after a reload too.
    private static BalancerConfig Config(BackendDownAction onDown = BackendDownAction.Reassign, int pool = 4, Func<int, int>? weight = null) =>
        Fixtures.Config(Fixtures.Pool(Enumerable.Range(1, pool), weight) with
        {
            OnBackendDown = onDown,
            Health = new HealthCheckConfig { Type = HealthCheckType.Tcp, Initial = BackendHealth.Healthy },
        });

    private static BalancerConfig Without(BalancerConfig config, string backend) =>
        config with
        {
            Services = config.Services.Select(s => s.Name == "pool" ? s with { Backends = s.Backends.Where(b => b.Name != backend).ToArray() } : s).ToArray(),
        };

    private static BackendSnapshot? Backend(TestEngine engine, string name) =>
        engine.Service("pool").Backends.SingleOrDefault(b => b.Name == name);

    private static HealthReport Report(string backend, BackendHealth health, int consecutive) =>
        new("pool", backend, health, health == BackendHealth.Healthy, "check", DateTimeOffset.UnixEpoch, consecutive, 2, Changed: false, Reason: null);

    [Fact]
    public void Reload_SameFile_NoChanges_SameIds()
    {
        var engine = new TestEngine(Config());
        var before = engine.State.Current;

        var result = engine.Engine.Reload(engine.Config);

        Assert.True(result.Ok);
        Assert.Empty(result.Changes);
        Assert.Equal(before.Services.Select(s => s.Id), engine.State.Current.Services.Select(s => s.Id));
        Assert.Equal(before.Services.SelectMany(s => s.Backends).Select(b => b.Id), engine.State.Current.Services.SelectMany(s => s.Backends).Select(b => b.Id));
        Assert.Equal(1, engine.Engine.Control.Reloads);
    }

    [Fact]
    public void Reload_KeepsHealthProgressDrainAndRuntimeWeight_ButTheFileWinsForAKeyItChanged()
    {
        var engine = new TestEngine(Config());
        var control = engine.Engine.Control;
        control.ApplyHealth(Report("pool-2", BackendHealth.Unhealthy, 3));
        control.ApplyHealth(Report("pool-1", BackendHealth.Healthy, 7));
        control.SetIntent("pool", "pool-3", BackendIntent.Draining);
        control.SetWeight("pool", "pool-4", 40);
        control.SetWeight("pool", "pool-1", 60);

        // The file changes pool-1's weight (200) but not pool-4's.
        var result = engine.Engine.Reload(Config(weight: i => i == 1 ? 200 : BackendConfig.DefaultWeight) with { SessionTableSize = engine.Config.SessionTableSize });

        Assert.True(result.Ok, string.Join("\n", result.Refusals));
        Assert.Equal(["backend pool/pool-1 changed: weight 100 -> 200"], result.Changes);
        Assert.Equal(200, Backend(engine, "pool-1")!.Weight);
        Assert.Equal(40, Backend(engine, "pool-4")!.Weight);
        Assert.Equal(BackendIntent.Draining, Backend(engine, "pool-3")!.Intent);
        Assert.Equal(BackendHealth.Unhealthy, Backend(engine, "pool-2")!.Health);
        Assert.Equal(7, control.Backends.Get("pool", "pool-1")!.Value.Consecutive);
        Assert.Equal(3, control.Backends.Get("pool", "pool-2")!.Value.Consecutive);
    }

    [Fact]
    public void Reload_RestartOnlyKeyOrInterface_RefusedNamingTheKey_NothingChanges()
    {
        var engine = new TestEngine(Config());
        var before = engine.State.Current;

        var workers = engine.Engine.Reload(engine.Config with { Workers = engine.Config.Workers + 1 });
        var iface = engine.Engine.Reload(engine.Config with
        {
            Services = engine.Config.Services.Select(s => s.Name == "web" ? s with { Interface = "other" } : s).ToArray(),
        });

        Assert.False(workers.Ok);
        Assert.Contains(workers.Refusals, r => r.Message.Contains("workers", StringComparison.Ordinal) && r.Message.Contains("restart", StringComparison.Ordinal));
        Assert.False(iface.Ok);
        Assert.Contains(iface.Refusals, r => r.Message.Contains("interface", StringComparison.Ordinal));
        Assert.Same(before, engine.State.Current);
        Assert.Equal(0, engine.Engine.Control.Reloads);
    }

    [Fact]
    public void Reload_ServiceWithAnotherPort_IsARemovalAndAnAddition_WithANewId()
    {
        var engine = new TestEngine(Config());
        var oldId = engine.Service("web").Id;

        var result = engine.Engine.Reload(engine.Config with
        {
            Services = engine.Config.Services.Select(s => s.Name == "web" ? s with { Port = 8081 } : s).ToArray(),
        });

        Assert.True(result.Ok, string.Join("\n", result.Refusals));
        Assert.NotEqual(oldId, engine.Service("web").Id);
        Assert.Contains(result.Changes, c => c.Contains("web", StringComparison.Ordinal));
    }

    [Fact]
    public void Reload_RemovedBackendWithFlows_UnderKeep_StaysLeavingForItsFlows_ThenGoes()
    {
        var engine = new TestEngine(Config(BackendDownAction.Keep));
        var flows = Fixtures.PoolFlows(64, TcpFlags.Syn);
        var first = flows.Select(f => engine.BackendOf(engine.Send(f).Output!, "pool")).ToArray();
        var victim = first[0];
        var itsFlows = Enumerable.Range(0, flows.Length).Where(i => first[i] == victim).ToArray();

        var result = engine.Engine.Reload(Without(engine.Config, victim));

        Assert.True(result.Ok);
        Assert.Contains(result.Changes, c => c.StartsWith($"backend pool/{victim} removed, leaving: its {itsFlows.Length} flows", StringComparison.Ordinal));
        Assert.True(Backend(engine, victim)!.Leaving);
        Assert.Equal(0, Backend(engine, victim)!.TableWeight);
        // Its flows stay on it; no new flow goes to it.
        var acks = Fixtures.PoolFlows(64);
        foreach (var i in itsFlows)
            Assert.Equal(victim, engine.BackendOf(engine.Send(acks[i]).Output!, "pool"));
        foreach (var f in Fixtures.PoolFlows(200, TcpFlags.Syn).Skip(64))
            Assert.NotEqual(victim, engine.BackendOf(engine.Send(f).Output!, "pool"));

        // Its flows time out; until the worker's sweep has met them they are still held, and it stays.
        engine.Clock.Advance(FlowTimeouts.Default.TcpEstablishedMs + 1);
        engine.Engine.Control.RemoveEndedLeaving(() => engine.Engine.CountLiveFlows());
        Assert.NotNull(Backend(engine, victim));
        engine.Idle();
        engine.Engine.Control.RemoveEndedLeaving(() => engine.Engine.CountLiveFlows());

        Assert.Null(Backend(engine, victim));
    }

    [Fact]
    public void Reload_RemovedBackendWithFlows_UnderReassign_GoesAtOnce_AndItsFlowsMove()
    {
        var engine = new TestEngine(Config());
        var flows = Fixtures.PoolFlows(64, TcpFlags.Syn);
        var first = flows.Select(f => engine.BackendOf(engine.Send(f).Output!, "pool")).ToArray();
        var victim = first[0];

        var result = engine.Engine.Reload(Without(engine.Config, victim));

        Assert.Contains(result.Changes, c => c.StartsWith($"backend pool/{victim} removed: its flows go to the service's other backends", StringComparison.Ordinal));
        Assert.Null(Backend(engine, victim));
        var moved = engine.Send(Fixtures.PoolFlows(1)[0]);
        Assert.Equal(Verdict.Transmit, moved.Verdict);
        Assert.NotEqual(victim, engine.BackendOf(moved.Output!, "pool"));
    }

    [Fact]
    public void Reload_LeavingBackendBackInTheFile_IsKeptWithItsState()
    {
        var engine = new TestEngine(Config(BackendDownAction.Keep));
        var first = engine.BackendOf(engine.Send(Fixtures.PoolFlows(1, TcpFlags.Syn)[0]).Output!, "pool");
        engine.Engine.Control.SetIntent("pool", first, BackendIntent.Draining);
        var full = engine.Config;

        engine.Engine.Reload(Without(full, first));
        var back = engine.Engine.Reload(full);

        Assert.True(back.Ok);
        Assert.False(Backend(engine, first)!.Leaving);
        Assert.Equal(BackendIntent.Draining, Backend(engine, first)!.Intent);
        Assert.Empty(engine.Engine.Control.Backends.Leaving);
    }
}
