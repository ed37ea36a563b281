using LoadBalancer.Core.Forwarding;

namespace LoadBalancer.Hosting;

/// <summary>When one interface's ARP or neighbour discovery thread speaks, the same for both families: a round of
/// <see cref="HaRoles.AnnounceCount"/> announcements of the VIPs, <see cref="HaRoles.AnnounceInterval"/> apart, at
/// start and at every new <see cref="HaRoles.AnnounceRound"/> (a takeover, a reload adding VIPs), only while the
/// engine claims its VIPs; and a request for each learned neighbour of its family on the interface every
/// <see cref="ResolveInterval"/> until it is resolved, then every <see cref="RefreshInterval"/> (so a replaced server
/// is noticed), each recorded with <see cref="NeighborTable.Asked"/> so its answer is taken. Owned by that one
/// thread: no locking.</summary>
internal sealed class NeighborRhythm(HaRoles roles, NeighborTable neighbors, int interfaceIndex, bool ipv6)
{
    public static readonly TimeSpan ResolveInterval = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);

    private readonly long[] _lastAsked = new long[NeighborTable.Capacity];
    private int _round = roles.AnnounceRound;
    private int _announcements;
    private long _lastAnnounce = -1;
    private long _lastResolve = -1;

    /// <summary>True when the VIPs are to be announced now (and counts the announcement).</summary>
    public bool AnnounceDue(long now)
    {
        if (roles.AnnounceRound != _round)
        {
            _round = roles.AnnounceRound;
            _announcements = 0;
            _lastAnnounce = -1;
        }
        if (!roles.ClaimsVips || _announcements >= roles.AnnounceCount
            || (_lastAnnounce >= 0 && now - _lastAnnounce < roles.AnnounceInterval.TotalMilliseconds))
            return false;
        _announcements++;
        _lastAnnounce = now;
        return true;
    }

    /// <summary>True when it is time to look for neighbours to ask (every <see cref="ResolveInterval"/>).</summary>
    public bool ResolveDue(long now)
    {
        if (_lastResolve >= 0 && now - _lastResolve < ResolveInterval.TotalMilliseconds) return false;
        _lastResolve = now;
        return true;
    }

    /// <summary>True when neighbour slot <paramref name="index"/> is to be asked now; it is then marked asked.</summary>
    public bool AskDue(int index, long now)
    {
        if (neighbors.Interface(index) != interfaceIndex || neighbors.IsStatic(index) || neighbors.IsIpv6(index) != ipv6) return false;
        var due = neighbors.Mac(index).IsZero ? ResolveInterval.TotalMilliseconds : RefreshInterval.TotalMilliseconds;
        if (_lastAsked[index] != 0 && now - _lastAsked[index] < due) return false;
        _lastAsked[index] = now;
        neighbors.Asked(index, now);
        return true;
    }
}
