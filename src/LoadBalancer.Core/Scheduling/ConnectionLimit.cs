namespace LoadBalancer.Core.Scheduling;

/// <summary>One backend's connection limit (<c>max_connections</c>, <c>min_connections</c>), as IPVS's upper and
/// lower thresholds: a backend that reaches <see cref="Max"/> active flows takes no new ones until its count is
/// strictly below <see cref="Min"/>. The gap keeps a backend near its limit from flapping between full and not full
/// at every flow that opens or closes. <see cref="Max"/> 0 means no limit.</summary>
public readonly record struct ConnectionLimit(int Max, int Min)
{
    public static readonly ConnectionLimit None = new(0, 0);

    public bool IsLimited => Max > 0;

    /// <summary>The limit with <c>min_connections</c> left out: three quarters of max (IPVS's default), at least 1 so
    /// that a backend at its limit can become not full again.</summary>
    public static ConnectionLimit WithDefaultMin(int max) => new(max, Math.Max(1, max * 3 / 4));
}

/// <summary>Whether one backend is full, kept by whoever counts its active flows (a worker for its own counts).
/// Mutable on purpose: fullness depends on the path the count took (4 after 5 is full, 4 after 2 is not), so it is
/// state, not a function of the count.</summary>
public struct ConnectionLimitState
{
    public bool Full { get; private set; }

    /// <summary>Brings <see cref="Full"/> up to date with <paramref name="active"/> and returns it. Called before a
    /// new flow is given to the backend; no allocation, no branch beyond the two comparisons.</summary>
    public bool Update(int active, in ConnectionLimit limit)
    {
        if (!limit.IsLimited) Full = false;
        else if (active >= limit.Max) Full = true;
        else if (active < limit.Min) Full = false;
        return Full;
    }
}
