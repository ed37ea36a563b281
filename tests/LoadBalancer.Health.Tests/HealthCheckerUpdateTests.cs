using LoadBalancer.Core.Model;
using static LoadBalancer.Health.Tests.CheckerHarness;

namespace LoadBalancer.Health.Tests;

/// <summary>A reload's new targets: unchanged ones keep their loop and rise/fall progress, changed checks restart
/// from the health they had, removed ones never report again, new ones start from the check's initial health.</summary>
public class HealthCheckerUpdateTests
{
    private static readonly ProbeResult Up = new(true, "http 200");
    private static readonly IHealthProbe AlwaysUp = new ScriptedProbe((_, _) => Up);

    [Fact]
    public async Task Update_UnchangedTargetKeepsCounting_RemovedStops_AddedStartsFromInitial()
    {
        await using var harness = new CheckerHarness([Target("web1"), Target("web2")], AlwaysUp);
        await harness.StartAsync();
        await harness.StepUntilAsync(() => harness.Sink.Of("web1").Count >= 3 && harness.Sink.Of("web2").Count >= 1);
        var web1Before = harness.Sink.Of("web1")[^1].Consecutive;
        var web2Reports = harness.Sink.Of("web2").Count;

        var update = await harness.UpdateAsync([Target("web1"), Target("web3")]);

        Assert.Equal(new HealthUpdate(Kept: 1, Restarted: 0, Added: 1, Removed: 1), update);
        Assert.Equal(["web1", "web3"], harness.Checker.Current.Select(r => r.Backend));
        Assert.Equal(BackendHealth.Unknown, harness.Checker.Current[1].Health);
        await harness.StepUntilAsync(() => harness.Sink.Of("web3").Count >= 2 && harness.Sink.Of("web1").Count >= 5);
        Assert.Equal(web1Before + 1, harness.Sink.Of("web1")[3].Consecutive);
        Assert.Equal(BackendHealth.Healthy, harness.Sink.Of("web3")[1].Health);
        Assert.Equal(web2Reports, harness.Sink.Of("web2").Count);
    }

    [Fact]
    public async Task Update_ChangedCheck_RestartsFromTheHealthItHad()
    {
        await using var harness = new CheckerHarness([Target("web1")], AlwaysUp);
        await harness.StartAsync();
        await harness.StepUntilAsync(() => harness.Sink.Of("web1").Count >= 2);
        Assert.Equal(BackendHealth.Healthy, harness.Sink.Of("web1")[^1].Health);

        var update = await harness.UpdateAsync([Target("web1", Check with { Rise = 5 })]);

        Assert.Equal(new HealthUpdate(Kept: 0, Restarted: 1, Added: 0, Removed: 0), update);
        Assert.Equal(BackendHealth.Healthy, harness.Checker.Current[0].Health);
        var seen = harness.Sink.Of("web1").Count;
        await harness.StepUntilAsync(() => harness.Sink.Of("web1").Count > seen);
        var first = harness.Sink.Of("web1")[seen];
        Assert.Equal(BackendHealth.Healthy, first.Health);
        Assert.Equal(1, first.Consecutive);
        Assert.Equal(5, first.Needed);
    }

    [Fact]
    public async Task Update_SameSettingsWrittenOnAnotherLine_IsUnchanged()
    {
        await using var harness = new CheckerHarness([Target("web1")], AlwaysUp);
        await harness.StartAsync();

        var update = await harness.UpdateAsync([Target("web1", Check with { Line = Check.Line + 7 })]);

        Assert.Equal(new HealthUpdate(Kept: 1, Restarted: 0, Added: 0, Removed: 0), update);
    }
}
