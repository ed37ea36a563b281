using LoadBalancer.Core.Model;

namespace LoadBalancer.Health.Tests;

public class HealthDampenerTests
{
    /// <summary>Records each result and returns the health after each one.</summary>
    private static BackendHealth[] Feed(HealthDampener dampener, string results) =>
        results.Select(c => { dampener.Record(c == '+'); return dampener.Health; }).ToArray();

    [Fact]
    public void Record_RiseSuccessesFromUnknown_BecomesHealthyOnTheLastOne()
    {
        var dampener = new HealthDampener(rise: 3, fall: 2, BackendHealth.Unknown);

        Assert.False(dampener.Record(true));
        Assert.False(dampener.Record(true));
        Assert.Equal(BackendHealth.Unknown, dampener.Health);
        Assert.True(dampener.Record(true));

        Assert.Equal(BackendHealth.Healthy, dampener.Health);
        Assert.Equal(3, dampener.Consecutive);
    }

    [Fact]
    public void Record_FallFailuresFromUnknown_BecomesUnhealthy()
    {
        var dampener = new HealthDampener(rise: 2, fall: 2, BackendHealth.Unknown);

        Assert.False(dampener.Record(false));
        Assert.True(dampener.Record(false));

        Assert.Equal(BackendHealth.Unhealthy, dampener.Health);
    }

    [Fact]
    public void Record_FallFromHealthyThenRise_ChangesOnceEachWay()
    {
        var dampener = new HealthDampener(rise: 2, fall: 3, BackendHealth.Healthy);
        var changes = "---++".Select(c => dampener.Record(c == '+')).ToArray();

        Assert.Equal([false, false, true, false, true], changes);
        Assert.Equal(BackendHealth.Healthy, dampener.Health);
    }

    [Fact]
    public void Record_ResultOfTheOtherKind_StartsTheCountAgain()
    {
        var dampener = new HealthDampener(rise: 3, fall: 3, BackendHealth.Unknown);

        var health = Feed(dampener, "++-++-++");

        Assert.All(health, h => Assert.Equal(BackendHealth.Unknown, h));
        Assert.Equal(2, dampener.Consecutive);
        dampener.Record(false);
        Assert.Equal(1, dampener.Consecutive);
    }

    [Theory]
    [InlineData(BackendHealth.Unknown, "+-+-+-+-+-+-")]
    [InlineData(BackendHealth.Healthy, "-+-+-+-+-+-+")]
    [InlineData(BackendHealth.Healthy, "--+--+--+--+")]
    [InlineData(BackendHealth.Unhealthy, "++-++-++-++-")]
    public void Record_FlappingFasterThanRiseAndFall_NeverChanges(BackendHealth initial, string results)
    {
        var dampener = new HealthDampener(rise: 3, fall: 3, initial);

        var changed = results.Select(c => dampener.Record(c == '+')).ToArray();

        Assert.DoesNotContain(true, changed);
        Assert.Equal(initial, dampener.Health);
    }

    [Fact]
    public void Record_InitialHealthySuccesses_NeverReportChange()
    {
        var dampener = new HealthDampener(rise: 2, fall: 2, BackendHealth.Healthy);

        var changed = Enumerable.Range(0, 5).Select(_ => dampener.Record(true)).ToArray();

        Assert.DoesNotContain(true, changed);
        Assert.Equal(BackendHealth.Healthy, dampener.Health);
        Assert.Equal(5, dampener.Consecutive);
    }

    [Fact]
    public void Record_InitialHealthyOneFailureShortOfFall_StaysHealthy()
    {
        var dampener = new HealthDampener(rise: 2, fall: 3, BackendHealth.Healthy);

        Assert.Equal([BackendHealth.Healthy, BackendHealth.Healthy, BackendHealth.Healthy], Feed(dampener, "--+"));
    }

    [Fact]
    public void Record_RiseAndFallOne_FollowEveryResult()
    {
        var dampener = new HealthDampener(rise: 1, fall: 1, BackendHealth.Unknown);

        Assert.Equal(
            [BackendHealth.Healthy, BackendHealth.Unhealthy, BackendHealth.Unhealthy, BackendHealth.Healthy],
            Feed(dampener, "+--+"));
    }

    [Fact]
    public void Consecutive_BeforeFirstResult_IsZero()
    {
        var dampener = new HealthDampener(rise: 2, fall: 2, BackendHealth.Unknown);

        Assert.Equal(0, dampener.Consecutive);
        Assert.Equal(BackendHealth.Unknown, dampener.Health);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    [InlineData(-1, 2)]
    public void Ctor_RiseOrFallBelowOne_Throws(int rise, int fall)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HealthDampener(rise, fall, BackendHealth.Unknown));
    }
}
