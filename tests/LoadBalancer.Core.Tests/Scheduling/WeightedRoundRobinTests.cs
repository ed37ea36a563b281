using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Tests.Scheduling;

public class WeightedRoundRobinTests
{
    private static int[] Picks(int[] weights, bool[] full, long[] credits, int n)
    {
        var picks = new int[n];
        for (var i = 0; i < n; i++) picks[i] = WeightedRoundRobin.Pick(weights, full, credits);
        return picks;
    }

    [Fact]
    public void Pick_FiveOneOne_SmoothSequenceThenRepeats()
    {
        int[] weights = [5, 1, 1];
        var credits = new long[3];

        var picks = Picks(weights, new bool[3], credits, 14);

        Assert.Equal(new[] { 0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0 }, picks);
        Assert.Equal(new long[3], credits); // a whole number of rounds brings the credits back to zero
    }

    [Fact]
    public void Pick_ManyRounds_SharesExactlyByWeight()
    {
        int[] weights = [100, 50, 25];
        var credits = new long[3];
        var counts = new int[3];

        foreach (var pick in Picks(weights, new bool[3], credits, 175 * 10)) counts[pick]++;

        Assert.Equal(new[] { 1000, 500, 250 }, counts);
    }

    [Fact]
    public void Pick_FullOrWeightZero_Skipped()
    {
        int[] weights = [100, 0, 100];
        bool[] full = [true, false, false];

        Assert.All(Picks(weights, full, new long[3], 10), pick => Assert.Equal(2, pick));
    }

    [Fact]
    public void Pick_NoneEligible_MinusOneAndCreditsUntouched()
    {
        long[] credits = [3, -3];

        Assert.Equal(-1, WeightedRoundRobin.Pick([100, 100], [true, true], credits));
        Assert.Equal(new long[] { 3, -3 }, credits);
    }
}
