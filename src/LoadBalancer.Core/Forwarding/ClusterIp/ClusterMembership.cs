using LoadBalancer.Core.Model;

namespace LoadBalancer.Core.Forwarding.ClusterIp;

/// <summary>One moment of a CLUSTERIP service's membership as this node sees it: the ownership table over the
/// nodes alive, which other node held each bucket lately, when the last membership change and the last rejoin
/// happened, and whether this node sees a majority. Immutable; a snapshot carries it.</summary>
/// <param name="ChangedAtMs">The last membership change (a cold start, losing or regaining quorum count too).</param>
/// <param name="RejoinedAtMs">When this node last came back (into a majority, alive in its own view);
/// <see cref="long.MinValue"/> when it never left.</param>
/// <param name="HasQuorum">A majority of the cluster (itself included) is alive. Without it the node takes no new flows.</param>
public sealed record ClusterView(ClusterTable Table, ClusterBucketHistory Buckets, long ChangedAtMs, long RejoinedAtMs, bool HasQuorum);

/// <summary>CLUSTERIP membership over time for one service on this node: the long-lived state between snapshots
/// (YARP's config → snapshot → state layering). Each time the view of who is alive may have changed (a health
/// result, an operator command), the control plane calls <see cref="Update"/> and the snapshot carries the
/// <see cref="ClusterView"/> it returns. Control plane only; not thread-safe (the snapshot builder serialises).
/// Rules:
/// - quorum: a node that sees fewer than a majority alive (itself included; clusters of three or more) is most
///   likely the one cut off: it takes over nothing and keeps only its own share (the table with every node), so
///   that when it comes back it does not accept flows the others now own. Two-node clusters have no majority to
///   lose: there the survivor takes over;
/// - any change of the table, and gaining or losing quorum even when the table looks the same (a cold start,
///   being cut off, coming back), starts a transition: a node cannot tell whether it was the one cut off while
///   others took over its buckets. Losing quorum counts too: in the moments after a cut-off node is reconnected,
///   before its checks see the others again, its buckets may carry flows the others accepted meanwhile;
/// - each change records, per bucket, the other node that owned it in the table that ended (UDP has no SYN to
///   tell their flows from new ones); coming into a majority also records the table without this node, which
///   the others may have served with;
/// - rejoining (a majority in view and this node alive in it, after either was missing) is remembered: the UDP
///   flows it remembers from before may have been taken over by others meanwhile, which now remember them.</summary>
public sealed class ClusterMembership
{
    private ClusterView? _last;
    private bool _participating;

    public ClusterView Update(ClusterConfig cluster, Func<int, bool> isAlive, int tableSize, long nowMs)
    {
        var alive = cluster.Nodes.Count(n => isAlive(n.Id));
        var quorum = cluster.Nodes.Count >= 3 ? cluster.Nodes.Count / 2 + 1 : 1;
        var hasQuorum = alive >= quorum;
        var table = ClusterTable.Build(cluster.Nodes, hasQuorum ? isAlive : _ => true, tableSize);

        var last = _last;
        var changed = last is null || last.Table.Digest != table.Digest || hasQuorum != last.HasQuorum;
        var buckets = last?.Buckets ?? ClusterBucketHistory.Empty(table.Size);
        var changedAt = last?.ChangedAtMs ?? 0;
        if (changed)
        {
            changedAt = nowMs;
            if (last is not null) buckets = buckets.After(last.Table, cluster.LocalNode, nowMs);
            // Coming into a majority (a cold start, or back from being cut off): the others may have been
            // serving without this node, with a table that gave its buckets to them.
            if (hasQuorum && (last is null || !last.HasQuorum))
                buckets = buckets.After(ClusterTable.Build(cluster.Nodes, id => id != cluster.LocalNode && isAlive(id), tableSize), cluster.LocalNode, nowMs);
        }
        var participating = hasQuorum && isAlive(cluster.LocalNode);
        var rejoinedAt = last?.RejoinedAtMs ?? long.MinValue;
        if (participating && !_participating && last is not null) rejoinedAt = nowMs;
        _participating = participating;
        return _last = new ClusterView(table, buckets, changedAt, rejoinedAt, hasQuorum);
    }
}
