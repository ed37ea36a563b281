using LoadBalancer.Core.Model;
using LoadBalancer.Health;
using LoadBalancer.Hosting.Events;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests.Events;

/// <summary>State-change events: counted, logged, and run through the service's notify script in order, a hanging
/// script cut off without holding anything up.</summary>
public sealed class StateEventsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lb-events-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Script(string body)
    {
        var path = Path.Combine(_dir, $"notify-{Guid.NewGuid():N}.sh");
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static void Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            Thread.Sleep(20);
        }
    }

    [Fact]
    public void EngineChanges_RunTheServicesScriptInOrder_WithServiceBackendOldNewReason()
    {
        var record = Path.Combine(_dir, "events.txt");
        var script = Script($"printf '%s|%s|%s|%s|%s\\n' \"$1\" \"$2\" \"$3\" \"$4\" \"$5\" >> {record}");
        var config = Fixtures.Config(Fixtures.Pool([1, 2]) with
        {
            Notify = script,
            Health = new HealthCheckConfig { Type = HealthCheckType.Tcp, Initial = BackendHealth.Healthy },
        });
        using var engine = EngineBuilder.Build(config, new FakePlatform(Fixtures.Interfaces).Platform);
        var control = engine.Control;

        control.SetIntent("pool", "pool-1", BackendIntent.Draining);
        control.SetIntent("pool", "pool-1", BackendIntent.Active);
        control.ApplyHealth(new HealthReport("pool", "pool-2", BackendHealth.Unhealthy, false, "tcp connect refused", DateTimeOffset.UnixEpoch, 2, 2,
            Changed: true, Reason: "pool-2 unhealthy: tcp connect refused after 2/2 failures"));
        control.SetWeight("pool", "pool-2", 7);

        Eventually(() => File.Exists(record) && File.ReadAllLines(record).Length == 4, "four script runs");
        Assert.Equal(
        [
            "pool|pool-1|active|draining|operator",
            "pool|pool-1|draining|active|operator",
            "pool|pool-2|healthy|unhealthy|pool-2 unhealthy: tcp connect refused after 2/2 failures",
            "pool|pool-2|100|7|operator",
        ], File.ReadAllLines(record));
        Assert.Contains(("pool", "intent", 2L), control.Events.Counts());
        Assert.Contains(("pool", "health", 1L), control.Events.Counts());
        Assert.Contains(("pool", "weight", 1L), control.Events.Counts());
    }

    [Fact]
    public void HangingScript_IsKilledAfterItsTimeout_AndTheNextRunsStillHappen()
    {
        var record = Path.Combine(_dir, "after.txt");
        var script = Script($"if [ \"$4\" = draining ]; then sleep 60; fi; echo \"$4\" >> {record}");
        var log = new StringWriter();
        using var events = new StateEvents(new EngineLog(TextWriter.Synchronized(log)), _ => script, TimeSpan.FromMilliseconds(300));
        var started = DateTime.UtcNow;

        events.Record(new StateChange("web", "a", StateChangeKind.Intent, "active", "draining", "operator"));
        events.Record(new StateChange("web", "a", StateChangeKind.Intent, "draining", "active", "operator"));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromMilliseconds(300), "Record waited for the script");

        Eventually(() => File.Exists(record) && File.ReadAllText(record).Trim() == "active", "the run after the hanging one");
        Assert.Contains("killed after", log.ToString());
    }

    [Fact]
    public void HaRoleChange_IsAnEvent_WithoutAScript()
    {
        var config = Fixtures.Config() with { Ha = new HaConfig() };
        using var engine = EngineBuilder.Build(config, new FakePlatform(Fixtures.Interfaces).Platform);

        engine.Roles.Set(HaRole.Master, "test");

        Assert.Contains(("", "role", 1L), engine.Control.Events.Counts());
    }
}
