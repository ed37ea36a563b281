using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Tests.Scheduling;

public class ConnectionLimitTests
{
    [Fact]
    public void Update_FiveThenFourThenThreeThenTwo_FullFromMaxUntilStrictlyBelowMin()
    {
        var limit = new ConnectionLimit(Max: 5, Min: 3);
        var state = new ConnectionLimitState();

        Assert.False(state.Update(4, limit));
        Assert.True(state.Update(5, limit));
        Assert.True(state.Update(4, limit));
        Assert.True(state.Update(3, limit));
        Assert.False(state.Update(2, limit));
        Assert.False(state.Update(4, limit)); // on the way up again: not full until max
        Assert.True(state.Update(5, limit));
    }

    [Fact]
    public void Update_NoLimit_NeverFull()
    {
        var state = new ConnectionLimitState();

        Assert.False(state.Update(1_000_000, ConnectionLimit.None));
    }

    [Fact]
    public void Update_LimitRemovedWhileFull_NotFull()
    {
        var state = new ConnectionLimitState();
        state.Update(5, new ConnectionLimit(5, 3));

        Assert.False(state.Update(5, ConnectionLimit.None));
    }

    [Theory]
    [InlineData(200, 150)]
    [InlineData(4, 3)]
    [InlineData(1, 1)]
    public void WithDefaultMin_ThreeQuartersOfMaxAtLeastOne(int max, int min)
    {
        Assert.Equal(new ConnectionLimit(max, min), ConnectionLimit.WithDefaultMin(max));
    }
}
