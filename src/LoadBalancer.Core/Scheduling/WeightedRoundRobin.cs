namespace LoadBalancer.Core.Scheduling;

/// <summary>Weighted round robin, in its smooth form (nginx's): each pick adds every eligible backend's weight to
/// its running credit, takes the backend with the most credit and takes the round's total weight from it. Over any
/// run of picks with fixed weights each backend gets its weight's share to within one pick, and the picks of a heavy
/// backend are spread through the round rather than bunched (IPVS's gcd stepping sends a weight-5 backend five flows
/// in a row). Invariants:
/// - a backend is eligible when its weight is above 0 and it is not full; none eligible gives -1 and leaves the
///   credits as they were;
/// - the credits are the caller's (a worker's own array per service, one slot per backend), so picks take no lock;
///   a backend that is not eligible keeps its credit for when it is again;
/// - one pass: O(backends), no allocation; credits stay within [-total weight, total weight] for fixed weights.</summary>
public static class WeightedRoundRobin
{
    public static int Pick(ReadOnlySpan<int> weights, ReadOnlySpan<bool> full, Span<long> credits)
    {
        var best = -1;
        long total = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            if (weights[i] <= 0 || full[i]) continue;
            credits[i] += weights[i];
            total += weights[i];
            if (best < 0 || credits[i] > credits[best]) best = i;
        }
        if (best >= 0) credits[best] -= total;
        return best;
    }
}
