using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Tests.Scheduling;

public class WeightedLeastConnectionsTests
{
    private static readonly bool[] NoneFull = new bool[8];

    [Fact]
    public void Pick_EqualWeights_FewestActive()
    {
        Assert.Equal(1, WeightedLeastConnections.Pick([100, 100, 100], [5, 2, 3], NoneFull.AsSpan(0, 3), hash: 7));
    }

    [Fact]
    public void Pick_LowestActivePerWeight_NotLowestActive()
    {
        // 3/200 is below 2/100: the heavier backend takes the flow though it has more.
        Assert.Equal(0, WeightedLeastConnections.Pick([200, 100], [3, 2], NoneFull.AsSpan(0, 2), hash: 0));
    }

    [Fact]
    public void Pick_FullAndWeightZero_Skipped()
    {
        bool[] full = [true, false, false];

        Assert.Equal(2, WeightedLeastConnections.Pick([100, 0, 100], [0, 0, 9], full, hash: 0));
    }

    [Fact]
    public void Pick_NoneEligible_MinusOne()
    {
        Assert.Equal(-1, WeightedLeastConnections.Pick([0, 100], [0, 0], [false, true], hash: 0));
        Assert.Equal(-1, WeightedLeastConnections.Pick([], [], [], hash: 0));
    }

    [Fact]
    public void Pick_Ties_ChosenByHashAmongTiedOnly()
    {
        int[] weights = [100, 100, 100, 100];
        int[] active = [1, 4, 1, 1]; // slot 1 is not tied
        var seen = new HashSet<int>();
        for (uint hash = 0; hash < 30; hash++)
        {
            var pick = WeightedLeastConnections.Pick(weights, active, NoneFull.AsSpan(0, 4), hash);
            Assert.Equal(pick, WeightedLeastConnections.Pick(weights, active, NoneFull.AsSpan(0, 4), hash));
            Assert.Equal(new[] { 0, 2, 3 }[hash % 3], pick);
            seen.Add(pick);
        }
        Assert.Equal(new[] { 0, 2, 3 }, seen.Order().ToArray());
    }

    [Fact]
    public void Pick_SameRatioDifferentWeights_Tied()
    {
        // 2/200 and 1/100 are the same load: hash 0 takes the first tied slot, hash 1 the second.
        Assert.Equal(0, WeightedLeastConnections.Pick([200, 100], [2, 1], NoneFull.AsSpan(0, 2), hash: 0));
        Assert.Equal(1, WeightedLeastConnections.Pick([200, 100], [2, 1], NoneFull.AsSpan(0, 2), hash: 1));
    }

    [Fact]
    public void Pick_LargeCountsAndWeights_NoOverflow()
    {
        Assert.Equal(1, WeightedLeastConnections.Pick([int.MaxValue, int.MaxValue - 1], [int.MaxValue, int.MaxValue - 2], NoneFull.AsSpan(0, 2), hash: 0));
    }
}
