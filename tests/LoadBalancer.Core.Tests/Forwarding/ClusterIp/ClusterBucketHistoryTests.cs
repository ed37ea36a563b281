using LoadBalancer.Core.Model;
using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.ClusterIp;

public sealed class ClusterBucketHistoryTests
{
    private const int Size = 251;
    private static readonly ClusterNodeConfig[] Nodes = ClusterFixture.Nodes;

    private static ClusterTable Table(params int[] alive) => ClusterTable.Build(Nodes, alive.Contains, Size);

    [Fact]
    public void After_RecordsOnlyOtherNodesBuckets_HeldWhileTheyLiveAndTheWindowLasts()
    {
        var withoutNode1 = Table(2, 3);
        var all = Table(1, 2, 3);
        var history = ClusterBucketHistory.Empty(Size).After(withoutNode1, localNode: 1, nowMs: 1000);

        // Node 1 owns about a third of the buckets in the full table, all of them held by node 2 or 3 before.
        var owned = Enumerable.Range(0, Size).Count(b => all.OwnerAt(b) == 1);
        Assert.Equal(owned, history.CountHeld(all, 1, nowMs: 1000, windowMs: 500));
        Assert.Equal(owned, history.CountHeld(all, 1, nowMs: 1499, windowMs: 500));
        Assert.Equal(0, history.CountHeld(all, 1, nowMs: 1500, windowMs: 500));
        // Holders that are dead now hold nothing: their flows died with them.
        Assert.Equal(0, history.CountHeld(Table(1), 1, nowMs: 1000, windowMs: 500));
        // Per flow hash, as the packet path asks: every hash of node 1's buckets is held, until the window ends.
        for (uint h = 0; h < 3 * Size; h++)
        {
            Assert.True(history.HeldByLiveNode(h, all, 1000, 500));
            Assert.False(history.HeldByLiveNode(h, all, 1500, 500));
        }
    }

    [Fact]
    public void After_LaterTableDoesNotEraseAnEarlierHolder()
    {
        // Node 1's view: a cold start (the others may have served without it), then a table where it owned
        // everything for a moment: the buckets stay held by the earlier holders.
        var history = ClusterBucketHistory.Empty(Size).After(Table(2, 3), 1, 1000).After(Table(1), 1, 1100);
        var all = Table(1, 2, 3);
        Assert.Equal(Enumerable.Range(0, Size).Count(b => all.OwnerAt(b) == 1), history.CountHeld(all, 1, 1100, 500));
    }

    [Fact]
    public void Empty_HoldsNothing_AndASizeMismatchIsIgnored()
    {
        Assert.Equal(0, ClusterBucketHistory.Empty(Size).CountHeld(Table(1, 2, 3), 1, 0, 1000));
        var history = ClusterBucketHistory.Empty(Size).After(ClusterTable.Build(Nodes, _ => true, 257), 1, 0);
        Assert.Equal(0, history.CountHeld(Table(1, 2, 3), 1, 0, 1000));
    }
}
