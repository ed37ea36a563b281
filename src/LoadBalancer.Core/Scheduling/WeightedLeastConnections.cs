namespace LoadBalancer.Core.Scheduling;

/// <summary>Weighted least connections (IPVS <c>wlc</c>): a new flow goes to the eligible backend with the lowest
/// active flows per unit of weight. Invariants:
/// - the three spans hold one slot per backend, in the snapshot's backend order;
/// - a backend is eligible when its weight is above 0 and it is not full; none eligible gives -1;
/// - ratios are compared by cross-multiplication in 64 bits (a/w &lt; b/v as a*v &lt; b*w), exact for any int counts
///   and weights, with no division and no floating point;
/// - among equally loaded backends the flow's hash picks one (hash % ties, counted in slot order), so the same
///   counts and the same flow give the same backend on every run, and a burst of new flows at equal counts spreads
///   over the tied backends instead of piling on the first;
/// - two passes over the backends at most: O(backends), no allocation.</summary>
public static class WeightedLeastConnections
{
    public static int Pick(ReadOnlySpan<int> weights, ReadOnlySpan<int> active, ReadOnlySpan<bool> full, uint hash)
    {
        var best = -1;
        var ties = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            if (weights[i] <= 0 || full[i]) continue;
            if (best < 0)
            {
                best = i;
                ties = 1;
                continue;
            }
            var lhs = (long)active[i] * weights[best];
            var rhs = (long)active[best] * weights[i];
            if (lhs < rhs)
            {
                best = i;
                ties = 1;
            }
            else if (lhs == rhs) ties++;
        }
        if (ties <= 1) return best;

        var k = (int)(hash % (uint)ties);
        for (var i = best; i < weights.Length; i++)
        {
            if (weights[i] <= 0 || full[i]) continue;
            if ((long)active[i] * weights[best] != (long)active[best] * weights[i]) continue;
            if (k-- == 0) return i;
        }
        return best; // unreachable: the first pass counted exactly these ties
    }
}
