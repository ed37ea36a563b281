using LoadBalancer.Core.Model;
using LoadBalancer.TestKit;
using static LoadBalancer.Health.Tests.CheckerHarness;

namespace LoadBalancer.Health.Tests;

public class HealthCheckerTests
{
    private static readonly ProbeResult Up = new(true, "http 200");
    private static readonly ProbeResult Down = new(false, "http 503");
    private static readonly IHealthProbe AlwaysUp = new ScriptedProbe((_, _) => Up);

    [Fact]
    public void Current_BeforeAnyCheck_ShowsInitialHealthPerTarget()
    {
        var targets = new[] { Target("web1"), Target("web2", Check with { Initial = BackendHealth.Healthy }) };
        var checker = new HealthChecker(targets, new RecordingSink(), new FakeTimeProvider());

        var current = checker.Current;

        Assert.Equal(["web1", "web2"], current.Select(r => r.Backend));
        Assert.Equal([BackendHealth.Unknown, BackendHealth.Healthy], current.Select(r => r.Health));
        Assert.All(current, r => Assert.Equal("not checked yet", r.Detail));
    }

    [Fact]
    public async Task RunAsync_ManyTargets_FirstChecksSpreadOverOneInterval()
    {
        var targets = Enumerable.Range(1, 10).Select(i => Target($"web{i}")).ToArray();
        await using var harness = new CheckerHarness(targets, AlwaysUp);
        await harness.StartAsync();
        var start = harness.Time.Start;

        var scheduled = harness.Time.PendingDueTimes;
        await harness.StepUntilAsync(() => harness.Sink.Reports.DistinctBy(r => r.Backend).Count() == targets.Length);

        Assert.All(scheduled, due => Assert.InRange(due, start, start + Check.Interval - TimeSpan.FromTicks(1)));
        Assert.Equal(targets.Length, scheduled.Distinct().Count());
        Assert.True(scheduled[^1] - scheduled[0] > Check.Interval / 2, $"first checks bunched in {scheduled[^1] - scheduled[0]}");
        var firstChecks = targets.Select(t => harness.Sink.Of(t.Backend)[0].At).Order();
        Assert.Equal(scheduled, firstChecks);
    }

    [Fact]
    public async Task RunAsync_AfterFirstCheck_ChecksEveryIntervalWithTenPercentJitter()
    {
        var targets = new[] { Target("web1"), Target("web2") };
        await using var harness = new CheckerHarness(targets, AlwaysUp);
        await harness.StartAsync();

        await harness.StepUntilAsync(() => targets.All(t => harness.Sink.Of(t.Backend).Count >= 20));

        foreach (var target in targets)
        {
            var times = harness.Sink.Of(target.Backend).Select(r => r.At).ToArray();
            var gaps = times.Zip(times.Skip(1), (a, b) => b - a).ToArray();
            Assert.All(gaps, gap => Assert.InRange(gap, Check.Interval * 0.9, Check.Interval * 1.1));
            Assert.True(gaps.Distinct().Count() > 1, "no jitter");
        }
    }

    [Fact]
    public async Task RunAsync_RiseAndFall_ReportsEachResultAndTransitionsWithReason()
    {
        //                      0   1   2   3   4   5   6   7
        var script = new[] { Up, Up, Down, Up, Down, Down, Down, Up };
        await using var harness = new CheckerHarness([Target("web1")], new ScriptedProbe((_, call) => script[call]));
        await harness.StartAsync();

        await harness.StepUntilAsync(() => harness.Sink.Count == script.Length);

        var reports = harness.Sink.Reports;
        Assert.Equal(script.Select(r => r.Ok), reports.Select(r => r.Ok));
        Assert.Equal(script.Select(r => r.Detail), reports.Select(r => r.Detail));
        Assert.Equal(
            [BackendHealth.Unknown, BackendHealth.Healthy, BackendHealth.Healthy, BackendHealth.Healthy,
             BackendHealth.Healthy, BackendHealth.Unhealthy, BackendHealth.Unhealthy, BackendHealth.Unhealthy],
            reports.Select(r => r.Health));
        Assert.Equal([1, 2, 1, 1, 1, 2, 3, 1], reports.Select(r => r.Consecutive));
        Assert.All(reports, r => Assert.Equal(2, r.Needed));
        Assert.Equal([false, true, false, false, false, true, false, false], reports.Select(r => r.Changed));
        Assert.Equal(
            [null, "web1 healthy: http 200 after 2/2 successes", null, null, null, "web1 unhealthy: http 503 after 2/2 failures", null, null],
            reports.Select(r => r.Reason));
        Assert.Equal(
            ["health web: web1 healthy: http 200 after 2/2 successes", "health web: web1 unhealthy: http 503 after 2/2 failures"],
            harness.Log);
        Assert.Equal(["health web: web1 unhealthy: http 503 after 2/2 failures"], harness.LogDown);
        Assert.Equal(reports[^1], Assert.Single(harness.Checker.Current));
    }

    [Fact]
    public async Task RunAsync_SoftStop_StartsAtOnceSurvivesFailuresEndsOnHealthyAnswer()
    {
        var soft = new ProbeResult(true, "http 404 (soft-stop)", SoftStop: true);
        //                      0   1   2     3     4   5
        var script = new[] { Up, Up, soft, Down, soft, Up };
        await using var harness = new CheckerHarness([Target("web1")], new ScriptedProbe((_, call) => script[call]));
        await harness.StartAsync();

        await harness.StepUntilAsync(() => harness.Sink.Count == script.Length);

        var reports = harness.Sink.Reports;
        Assert.Equal([false, false, true, true, true, false], reports.Select(r => r.SoftStop));
        Assert.Equal("web1 soft-stopped: http 404 (soft-stop)", reports[2].Reason);
        Assert.Equal("web1 back from soft-stop: http 200", reports[5].Reason);
        Assert.All(reports.Skip(1), r => Assert.Equal(BackendHealth.Healthy, r.Health));
        // Going down is said apart (the engine gives it a warning's priority); coming back is not.
        Assert.Equal(["health web: web1 soft-stopped: http 404 (soft-stop)"], harness.LogDown);
    }

    [Fact]
    public async Task RunAsync_InitialHealthy_FirstSuccessChangesNothingAndFallApplies()
    {
        var check = Check with { Initial = BackendHealth.Healthy, Fall = 3 };
        var script = new[] { Up, Down, Down, Down };
        await using var harness = new CheckerHarness([Target("web1", check)], new ScriptedProbe((_, call) => script[call]));
        await harness.StartAsync();

        await harness.StepUntilAsync(() => harness.Sink.Count == script.Length);

        var reports = harness.Sink.Reports;
        Assert.Equal([false, false, false, true], reports.Select(r => r.Changed));
        Assert.Equal([2, 3, 3, 3], reports.Select(r => r.Needed));
        Assert.Equal("web1 unhealthy: http 503 after 3/3 failures", reports[^1].Reason);
        Assert.Single(harness.Log);
    }

    [Fact]
    public async Task RunAsync_ProbeHangsUntilCancelled_EachCheckIsOneTimeoutFailure()
    {
        var hanging = new HangingProbe(honoursCancellation: true);
        var check = Check with { Fall = 3 };
        await using var harness = new CheckerHarness([Target("web1", check)], hanging, sink: null, hanging);
        await harness.StartAsync();

        await harness.StepUntilAsync(() => harness.Sink.Count == 4);

        var reports = harness.Sink.Reports;
        Assert.All(reports, r => Assert.Equal("timeout after 1000 ms", r.Detail));
        Assert.Equal([1, 2, 3, 4], reports.Select(r => r.Consecutive));
        Assert.Equal("web1 unhealthy: timeout after 1000 ms after 3/3 failures", reports[2].Reason);
        Assert.Equal(4, hanging.Calls);
        Assert.Equal(4, hanging.Cancelled);
    }

    [Fact]
    public async Task RunAsync_OneTargetHangs_OtherTargetIsCheckedOnTime()
    {
        var hanging = new HangingProbe(honoursCancellation: false);
        var probe = new RoutingProbe(new Dictionary<string, IHealthProbe> { ["stuck"] = hanging, ["fine"] = AlwaysUp });
        await using var harness = new CheckerHarness([Target("stuck"), Target("fine")], probe, sink: null, hanging);
        await harness.StartAsync();
        var dueFirst = harness.Time.PendingDueTimes.ToArray();

        await harness.StepUntilAsync(() => harness.Sink.Of("fine").Count >= 6 && harness.Sink.Of("stuck").Count >= 3);

        var fine = harness.Sink.Of("fine");
        Assert.All(fine, r => Assert.True(r.Ok));
        var times = fine.Select(r => r.At).ToArray();
        Assert.All(times.Zip(times.Skip(1), (a, b) => b - a), gap => Assert.InRange(gap, Check.Interval * 0.9, Check.Interval * 1.1));

        var stuck = harness.Sink.Of("stuck");
        Assert.All(stuck, r => Assert.False(r.Ok));
        // The first check is cut at the timeout; the probe ignores its cancellation and never ends, so
        // later checks fail at once rather than stack more stuck probes on it.
        Assert.Equal("timeout after 1000 ms", stuck[0].Detail);
        Assert.Contains(stuck[0].At - Check.Timeout, dueFirst);
        Assert.All(stuck.Skip(1), r => Assert.Equal("previous probe still running", r.Detail));
        Assert.Equal(BackendHealth.Unhealthy, stuck[^1].Health);
        Assert.Equal(1, hanging.Calls);
        Assert.Equal(1, hanging.Cancelled);
    }

    [Fact]
    public async Task RunAsync_ProbeThrows_ReportsFailureAndKeepsChecking()
    {
        var probe = new ScriptedProbe((_, call) => call == 0 ? throw new InvalidOperationException("boom") : Up);
        await using var harness = new CheckerHarness([Target("web1")], probe);
        await harness.StartAsync();

        await harness.StepUntilAsync(() => harness.Sink.Count == 2);

        var reports = harness.Sink.Reports;
        Assert.Equal(new[] { false, true }, reports.Select(r => r.Ok));
        Assert.Equal("probe error: InvalidOperationException: boom", reports[0].Detail);
    }

    [Fact]
    public async Task RunAsync_SinkThrows_KeepsCheckingAndLogsIt()
    {
        var sink = new RecordingSink { After = _ => throw new InvalidOperationException("sink down") };
        await using var harness = new CheckerHarness([Target("web1")], AlwaysUp, sink);
        await harness.StartAsync();

        await harness.StepUntilAsync(() => harness.Sink.Count == 3);

        Assert.Contains("health web: report sink failed for web1: sink down", harness.Log);
        Assert.Equal(BackendHealth.Healthy, harness.Checker.Current[0].Health);
    }

    [Theory]
    [InlineData(BackendHealth.Unknown, true)]
    [InlineData(BackendHealth.Healthy, false)]
    public async Task RunAsync_TypeNone_ReportsHealthyOnceWithoutProbing(BackendHealth initial, bool changed)
    {
        var targets = new[] { Target("web1", HealthCheckConfig.None with { Initial = initial }) };
        await using var harness = new CheckerHarness(targets, AlwaysUp);
        await harness.StartAsync();

        await Eventually.TrueAsync(() => harness.Sink.Count == 1, "the one report");

        var report = Assert.Single(harness.Sink.Reports);
        Assert.Equal(("web1", BackendHealth.Healthy, true, "no health check", changed), (report.Backend, report.Health, report.Ok, report.Detail, report.Changed));
        Assert.Equal(changed ? "web1 healthy: no health check" : null, report.Reason);
        Assert.Equal(changed ? ["health web: web1 healthy: no health check"] : [], harness.Log.ToArray());
        Assert.Equal(0, harness.Time.PendingTimers);
        Assert.Equal(0, harness.ProbesAskedFor);
        Assert.Equal(report, Assert.Single(harness.Checker.Current));
    }

    [Fact]
    public async Task RunAsync_Stopped_ReturnsAndLeavesNoTimer()
    {
        var harness = new CheckerHarness([Target("web1"), Target("web2")], AlwaysUp);
        await harness.StartAsync();
        await harness.StepAsync();

        await harness.DisposeAsync();

        Assert.Equal(0, harness.Time.PendingTimers);
    }

    [Fact]
    public async Task RunAsync_CalledTwice_Throws()
    {
        await using var harness = new CheckerHarness([Target("web1")], AlwaysUp);
        await harness.StartAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => harness.Checker.RunAsync(CancellationToken.None));
    }

    [Fact]
    public void Ctor_NonPositiveInterval_Throws()
    {
        var targets = new[] { Target("web1", Check with { Interval = TimeSpan.Zero }) };

        Assert.Throws<ArgumentException>(() => new HealthChecker(targets, new RecordingSink(), new FakeTimeProvider()));
    }

    [Fact]
    public async Task RunAsync_RealProbesOnRealClock_ReportUpAndDownBackends()
    {
        await using var server = new SilentTcpServer();
        var check = new HealthCheckConfig
        {
            Type = HealthCheckType.Tcp,
            Interval = TimeSpan.FromMilliseconds(100),
            Timeout = TimeSpan.FromSeconds(5),
            Rise = 2,
            Fall = 2,
        };
        using var closed = TestServers.ClosedTcpPort();
        var targets = new[]
        {
            TestServers.Target(server.Port, check, "up"),
            TestServers.Target(closed.Port, check, "down"),
        };
        var sink = new RecordingSink();
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var checker = new HealthChecker(targets, sink, TimeProvider.System, log: log.Enqueue);
        using var stop = new CancellationTokenSource();
        var run = checker.RunAsync(stop.Token);

        await Eventually.TrueAsync(() => checker.Current.All(r => r.Health != BackendHealth.Unknown), "both backends to get a verdict");
        stop.Cancel();
        await run.WaitAsync(Eventually.DefaultBound);

        Assert.Equal([BackendHealth.Healthy, BackendHealth.Unhealthy], checker.Current.Select(r => r.Health));
        Assert.Contains("health web: up healthy: tcp connect ok after 2/2 successes", log);
        Assert.Contains("health web: down unhealthy: tcp connect refused after 2/2 failures", log);
    }

    [Fact]
    public void Reason_RiseOrFallOfOne_IsSingular()
    {
        Assert.Equal("web1 healthy: tcp connect ok after 1/1 success",
            HealthChecker.Reason("web1", BackendHealth.Healthy, "tcp connect ok", 1, 1, ok: true));
        Assert.Equal("web1 unhealthy: exec exit 1 after 1/1 failure",
            HealthChecker.Reason("web1", BackendHealth.Unhealthy, "exec exit 1", 1, 1, ok: false));
    }
}
