namespace LoadBalancer.Core.Forwarding;

/// <summary>How often the engine answers one source with an ICMP error it builds itself (fragmentation-needed, IPv6 Packet Too Big): at
/// most one per <see cref="IntervalMs"/> per source, as a router limits its ICMP (Linux: <c>icmp_ratelimit</c>). A
/// client needs one answer per path (its kernel caches the path MTU for every connection to the VIP); a flood of
/// oversized packets with forged sources must not turn the balancer into an ICMP cannon. Sources share a slot of a
/// fixed table by hash, so a collision only makes the limit stricter. One per worker, written by it alone.</summary>
public sealed class IcmpRateLimit
{
    public const long IntervalMs = 100;
    private const int Slots = 4096;
    private readonly long[] _lastSentMs = new long[Slots];

    public IcmpRateLimit() => Array.Fill(_lastSentMs, long.MinValue / 2);

    /// <summary>Whether an error may go to <paramref name="source"/> now; if so, it counts as sent.</summary>
    public bool TryAdmit(uint source, long nowMs)
    {
        var slot = (int)(unchecked(source * 0x9E3779B1u) >> 20);
        if (nowMs - _lastSentMs[slot] < IntervalMs) return false;
        _lastSentMs[slot] = nowMs;
        return true;
    }

    /// <summary>The same for an IPv6 source (Packet Too Big), its four words folded into one: the limit is per
    /// address, as for IPv4; folded sources that collide only share a slot, which makes the limit stricter.</summary>
    public bool TryAdmit(UInt128 source, long nowMs) =>
        TryAdmit((uint)(source >> 96) ^ (uint)(source >> 64) ^ (uint)(source >> 32) ^ (uint)source, nowMs);
}
