using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.TestKit;

using static LoadBalancer.TestKit.ClusterFixture;

namespace LoadBalancer.Core.Tests.Forwarding.ClusterIp;

/// <summary>CLUSTERIP ownership through the real pipeline: three nodes' engines see the same frames.</summary>
public sealed class ClusterIpPipelineTests
{
    private static readonly long Transition = (long)FlowTimeoutsConfig.Default.TcpEstablished.TotalMilliseconds;
    private static readonly long UdpTransition = (long)FlowTimeoutsConfig.Default.Udp.TotalMilliseconds;

    private static Func<ServiceConfig, BackendConfig, BackendRuntime> Alive(params int[] ids) =>
        (_, b) => new BackendRuntime(ids.Any(id => b.Name == NodeName(id)) ? BackendHealth.Healthy : BackendHealth.Unhealthy, BackendIntent.Active, b.Weight);

    [Fact]
    public void ThreeNodes_EachNewFlowAcceptedByExactlyOne_AndReinjectedToTheTap()
    {
        var clock = new FakeClock();
        var nodes = new[] { Engine(1, clock), Engine(2, clock), Engine(3, clock) };
        var accepted = new int[3];
        for (var i = 0; i < 3000; i++)
        {
            var frame = Tcp(i, TcpFlags.Syn);
            var takers = 0;
            for (var n = 0; n < 3; n++)
            {
                var r = nodes[n].Send(frame);
                if (r.Verdict == Verdict.Transmit)
                {
                    takers++;
                    accepted[n]++;
                    Assert.Equal(1, r.OutputMeta.EgressInterface);
                    Assert.Equal(TapMac, MacAddress.Read(r.Output!));
                    Assert.Equal(frame.AsSpan(6).ToArray(), r.Output!.AsSpan(6).ToArray());
                }
                else Assert.Equal(DropReason.NotOwner, r.Drop);
            }
            Assert.Equal(1, takers);
        }
        Assert.All(accepted, a => Assert.InRange(a, 900, 1100));
        Assert.Equal(nodes[0].Cluster("web").Table.Digest, nodes[2].Cluster("web").Table.Digest);
    }

    [Fact]
    public void NodeDies_SurvivorsTakeItsNewFlowsAtOnce_KeepTheirOwnEstablishedOnes()
    {
        var clock = new FakeClock();
        var nodes = new[] { Engine(1, clock), Engine(2, clock), Engine(3, clock) };
        var owner = new int[3000];
        for (var i = 0; i < owner.Length; i++)
            for (var n = 0; n < 3; n++)
                if (nodes[n].Send(Tcp(i, TcpFlags.Syn)).Verdict == Verdict.Transmit) owner[i] = n + 1;

        foreach (var node in nodes) node.Reload(node.Config, Alive(1, 3));
        for (var i = 0; i < owner.Length; i++)
        {
            // Established flows of the survivors: still accepted by their node, refused by the other survivor.
            if (owner[i] == 2) continue;
            var other = owner[i] == 1 ? nodes[2] : nodes[0];
            Assert.Equal(Verdict.Transmit, nodes[owner[i] - 1].Send(Tcp(i, TcpFlags.Ack)).Verdict);
            Assert.Equal(DropReason.NotOwner, other.Send(Tcp(i, TcpFlags.Ack)).Drop);
        }
        // New connections that node 2 would have taken now go to exactly one survivor.
        for (var i = 3000; i < 4000; i++)
        {
            var takers = new[] { nodes[0], nodes[2] }.Count(n => n.Send(Tcp(i, TcpFlags.Syn)).Verdict == Verdict.Transmit);
            Assert.Equal(1, takers);
        }
    }

    [Fact]
    public void OwnFlows_AreRemembered_ButCountForNoBackend()
    {
        var node1 = Engine(1, new FakeClock());
        var owned = ClusterFixture.Flows(1).Take(20).ToArray();
        foreach (var i in owned) Assert.Equal(Verdict.Transmit, node1.Send(Tcp(i, TcpFlags.Syn)).Verdict);

        Assert.Equal(20, node1.Flows.Held);
        // Node ids are not backend ids: a DR or NAT backend sharing the engine must not see them in its counts.
        for (var id = 0; id < 16; id++) Assert.Equal(0, node1.Engine.Load.Held(id));
    }

    [Fact]
    public void GainedBucket_DuringTransition_TcpOnlyNewFlows_ThenEverything()
    {
        var clock = new FakeClock();
        var node1 = Engine(1, clock);
        var before = node1.Cluster("web").Table;
        node1.Reload(node1.Config, Alive(1, 3));
        var after = node1.Cluster("web").Table;
        // Flows in buckets node 1 gained from node 2.
        var gained = Enumerable.Range(0, 5000).Where(i =>
        {
            var h = FlowHash(i);
            return before.OwnerOf(h) == 2 && after.OwnerOf(h) == 1;
        }).Take(2).ToArray();
        Assert.Equal(2, gained.Length);

        Assert.Equal(DropReason.NotOwner, node1.Send(Tcp(gained[0], TcpFlags.Ack)).Drop);   // node 2's established flow: not ours
        Assert.Equal(Verdict.Transmit, node1.Send(Tcp(gained[0], TcpFlags.Syn)).Verdict);  // a new connection is
        Assert.Equal(Verdict.Transmit, node1.Send(Tcp(gained[0], TcpFlags.Ack)).Verdict);  // and then remembered
        Assert.Equal(DropReason.NotOwner, node1.Send(Tcp(gained[1], TcpFlags.Ack)).Drop);
        clock.Advance(Transition + 1);
        Assert.Equal(Verdict.Transmit, node1.Send(Tcp(gained[1], TcpFlags.Ack)).Verdict);  // transition over: the bucket is wholly ours
    }

    [Fact]
    public void NodeReturns_FlowsAcceptedMeanwhileStayWithTheirNode()
    {
        var clock = new FakeClock();
        var node1 = Engine(1, clock);
        var node2 = Engine(2, clock);
        foreach (var n in new[] { node1, node2 }) n.Reload(n.Config, Alive(1, 3));
        // While node 2 is away, node 1 accepts new connections in node 2's former buckets.
        var meanwhile = Enumerable.Range(0, 3000).Where(i => node1.Send(Tcp(i, TcpFlags.Syn)).Verdict == Verdict.Transmit).ToArray();

        foreach (var n in new[] { node1, node2 }) n.Reload(n.Config, Alive(1, 2, 3));
        foreach (var i in meanwhile)
        {
            Assert.Equal(Verdict.Transmit, node1.Send(Tcp(i, TcpFlags.Ack)).Verdict);       // remembered: still node 1's
            Assert.Equal(DropReason.NotOwner, node2.Send(Tcp(i, TcpFlags.Ack)).Drop);      // node 2 takes only new flows there
        }
    }

    private static byte[] Udp(int i) =>
        FrameBuilder.Udp(ClientIp(i), ClientPort(i), Vip, 53).Payload("q").EthernetDestination(ClusterMac).Build();

    private static uint UdpHash(int i) => FlowHash(i, 53);

    private static int[] UdpFlowsOwnedBy(ClusterTable table, int node, int from = 0, int count = 3000) =>
        Enumerable.Range(from, count).Where(i => table.OwnerOf(UdpHash(i)) == node).ToArray();

    [Fact]
    public void Udp_BucketGainedFromDeadNode_AcceptedAtOnce_FromLiveNode_AfterTheUdpTimeout()
    {
        var clock = new FakeClock();
        var node1 = Engine(1, clock, 53, TransportProtocol.Udp);
        var full = node1.Cluster("web").Table;
        clock.Advance(UdpTransition + 1);              // past the cold start's wait (see below)
        node1.Reload(node1.Config, Alive(1, 3));
        var fromDead = Enumerable.Range(0, 3000).Where(i => node1.Send(Udp(i)).Verdict == Verdict.Transmit).Count();
        Assert.InRange(fromDead, 1300, 1700); // about half: its own third and most of node 2's, at once

        // Node 2 back: node 1 gives buckets back; a node that regains buckets from a live node (node 1)
        // waits for UDP's idle timeout, not TCP's, before taking UDP there.
        var node2 = Engine(2, clock, 53, TransportProtocol.Udp);
        clock.Advance(UdpTransition + 1);
        node2.Reload(node2.Config, Alive(1, 3));
        node2.Reload(node2.Config, Alive(1, 2, 3));
        var regained = UdpFlowsOwnedBy(full, 2, from: 5000);
        Assert.NotEmpty(regained);
        Assert.All(regained, i => Assert.Equal(DropReason.NotOwner, node2.Send(Udp(i)).Drop));
        clock.Advance(UdpTransition - 1000);
        Assert.All(regained, i => Assert.Equal(DropReason.NotOwner, node2.Send(Udp(i)).Drop));
        clock.Advance(1001);
        Assert.All(regained, i => Assert.Equal(Verdict.Transmit, node2.Send(Udp(i)).Verdict));
    }

    [Fact]
    public void Udp_ColdStartAsResultsArriveOneAtATime_WaitsOneUdpTimeout_NotTcps()
    {
        var clock = new FakeClock();
        var node1 = Engine(1, clock, 53, TransportProtocol.Udp, allAlive: false);
        Assert.False(node1.Cluster("web").HasQuorum);  // nothing known yet: no majority, nothing new taken
        clock.Advance(300);
        node1.Reload(node1.Config, Alive(1));
        clock.Advance(300);
        node1.Reload(node1.Config, Alive(1, 2));              // a majority: the other may have served without us
        clock.Advance(300);
        node1.Reload(node1.Config, Alive(1, 2, 3));
        var own = UdpFlowsOwnedBy(node1.Cluster("web").Table, 1);
        Assert.NotEmpty(own);
        Assert.All(own, i => Assert.Equal(DropReason.NotOwner, node1.Send(Udp(i)).Drop));

        clock.Advance(UdpTransition + 1);
        Assert.All(own, i => Assert.Equal(Verdict.Transmit, node1.Send(Udp(i)).Verdict));
        // Remembered from here on, whatever happens to the table.
        node1.Reload(node1.Config, Alive(1, 2));
        Assert.All(own, i => Assert.Equal(Verdict.Transmit, node1.Send(Udp(i)).Verdict));
    }

    [Fact]
    public void Udp_OwnCheckFailedAndRecovered_WithQuorum_WaitsForTheOthersFlowsInItsBuckets()
    {
        var clock = new FakeClock();
        var node2 = Engine(2, clock, 53, TransportProtocol.Udp);
        clock.Advance(UdpTransition + 1);
        var own = UdpFlowsOwnedBy(node2.Cluster("web").Table, 2);
        Assert.All(own.Take(5), i => Assert.Equal(Verdict.Transmit, node2.Send(Udp(i)).Verdict));

        // Its application failed its check (the others took its buckets), then recovered.
        node2.Reload(node2.Config, Alive(1, 3));
        clock.Advance(5000);
        node2.Reload(node2.Config, Alive(1, 2, 3));
        // Seen dead, its flows may have gone to the others meanwhile: remembered or not, none is taken yet.
        Assert.All(own, i => Assert.Equal(DropReason.NotOwner, node2.Send(Udp(i)).Drop));
        clock.Advance(UdpTransition + 1);
        Assert.All(own, i => Assert.Equal(Verdict.Transmit, node2.Send(Udp(i)).Verdict));
    }

    [Fact]
    public void Udp_BackFromBeingCutOff_ItsOldFlowsAreNotTrusted_TheOthersTookThemOver()
    {
        var clock = new FakeClock();
        var node3 = Engine(3, clock, 53, TransportProtocol.Udp);
        clock.Advance(UdpTransition + 1);
        var own = UdpFlowsOwnedBy(node3.Cluster("web").Table, 3).Take(20).ToArray();
        Assert.All(own, i => Assert.Equal(Verdict.Transmit, node3.Send(Udp(i)).Verdict));

        node3.Reload(node3.Config, Alive(3));          // cut off: the others see it dead and take its flows
        clock.Advance(3000);
        node3.Reload(node3.Config, Alive(1, 2, 3));    // back
        Assert.All(own, i => Assert.Equal(DropReason.NotOwner, node3.Send(Udp(i)).Drop));
        clock.Advance(UdpTransition + 1);
        Assert.All(own, i => Assert.Equal(Verdict.Transmit, node3.Send(Udp(i)).Verdict));
    }

    [Fact]
    public void Udp_AChangeElsewhere_KeepsRememberedFlows()
    {
        var clock = new FakeClock();
        var node1 = Engine(1, clock, 53, TransportProtocol.Udp);
        clock.Advance(UdpTransition + 1);
        var own = UdpFlowsOwnedBy(node1.Cluster("web").Table, 1).Take(20).ToArray();
        Assert.All(own, i => Assert.Equal(Verdict.Transmit, node1.Send(Udp(i)).Verdict));
        node1.Reload(node1.Config, Alive(1, 2));       // node 3 leaves and comes back: node 1 never left
        clock.Advance(1000);
        node1.Reload(node1.Config, Alive(1, 2, 3));
        Assert.All(own, i => Assert.Equal(Verdict.Transmit, node1.Send(Udp(i)).Verdict));
    }

    [Fact]
    public void Udp_PreviousHolderDiedAfterAll_BucketTakenAtOnce()
    {
        var clock = new FakeClock();
        var node1 = Engine(1, clock, 53, TransportProtocol.Udp);
        var full = node1.Cluster("web").Table;
        clock.Advance(UdpTransition + 1);
        node1.Reload(node1.Config, Alive(1, 2));       // node 3 away: node 1 takes part of it
        clock.Advance(1000);
        node1.Reload(node1.Config, Alive(1, 2, 3));    // node 3 back: node 1 gives those buckets back
        clock.Advance(1000);
        node1.Reload(node1.Config, Alive(1, 3));       // node 2 dies: its buckets are taken at once
        var fromNode2 = UdpFlowsOwnedBy(full, 2).Where(i => node1.Cluster("web").Table.OwnerOf(UdpHash(i)) == 1).ToArray();
        Assert.NotEmpty(fromNode2);
        Assert.All(fromNode2, i => Assert.Equal(Verdict.Transmit, node1.Send(Udp(i)).Verdict));
    }

    [Fact]
    public void WithoutQuorum_IsolatedNodeKeepsOnlyItsOwnShare()
    {
        var clock = new FakeClock();
        var node3 = Engine(3, clock);
        var full = node3.Cluster("web").Table.Digest;
        // Cut off, node 3 sees both peers dead: one of three is no majority, so it takes over nothing.
        node3.Reload(node3.Config, Alive(3));
        Assert.Equal(full, node3.Cluster("web").Table.Digest);
        // One peer dead, two of three alive: that is a majority, and the survivors take over.
        node3.Reload(node3.Config, Alive(1, 3));
        Assert.NotEqual(full, node3.Cluster("web").Table.Digest);
    }

    [Fact]
    public void Rejoin_AfterBeingCutOff_OnlyNewTcpFlowsUntilTheTransitionEnds()
    {
        var clock = new FakeClock();
        var node3 = Engine(3, clock);
        node3.Reload(node3.Config, Alive(3));          // cut off: no quorum, table unchanged
        clock.Advance(Transition + 1);
        node3.Reload(node3.Config, Alive(1, 3));       // back: peers return one by one...
        node3.Reload(node3.Config, Alive(1, 2, 3));    // ...and the protection outlasts the second change
        var ownFlows = Enumerable.Range(0, 3000).Where(i =>
            node3.Cluster("web").Table.OwnerOf(FlowHash(i)) == 3).Take(2).ToArray();

        Assert.Equal(DropReason.NotOwner, node3.Send(Tcp(ownFlows[0], TcpFlags.Ack)).Drop);
        Assert.Equal(Verdict.Transmit, node3.Send(Tcp(ownFlows[1], TcpFlags.Syn)).Verdict);
        clock.Advance(Transition + 1);
        Assert.Equal(Verdict.Transmit, node3.Send(Tcp(ownFlows[0], TcpFlags.Ack)).Verdict);
    }

    [Fact]
    public void QuorumLost_OwnBucketsGuarded_UnknownTcpOnlyFromSyn()
    {
        var clock = new FakeClock();
        var node3 = Engine(3, clock);
        clock.Advance(Transition + 1);                 // long settled
        var own = Enumerable.Range(0, 3000).Where(i =>
            node3.Cluster("web").Table.OwnerOf(FlowHash(i)) == 3).Take(2).ToArray();
        Assert.Equal(Verdict.Transmit, node3.Send(Tcp(own[0], TcpFlags.Ack)).Verdict); // settled: its own bucket, taken

        node3.Reload(node3.Config, Alive(3));          // cut off: same table, but the others may take its buckets now
        Assert.Equal(DropReason.NotOwner, node3.Send(Tcp(own[1], TcpFlags.Ack)).Drop);
        Assert.Equal(DropReason.NotOwner, node3.Send(Tcp(own[1], TcpFlags.Syn)).Drop);  // in the minority: nothing new
        Assert.Equal(Verdict.Transmit, node3.Send(Tcp(own[0], TcpFlags.Ack)).Verdict); // remembered flows go on
    }

    /// <summary>An ICMP error to the VIP (flooded to every node) is accepted by exactly the node that takes the flow
    /// it quotes, and re-injected like the flow's own frames.</summary>
    [Fact]
    public void IcmpErrorToVip_AcceptedByTheFlowsOwnerOnly()
    {
        var clock = new FakeClock();
        var nodes = new[] { Engine(1, clock), Engine(2, clock), Engine(3, clock) };
        for (var i = 0; i < 300; i++)
        {
            var frame = Tcp(i, TcpFlags.Syn);
            var owner = -1;
            for (var n = 0; n < 3; n++)
                if (nodes[n].Send(frame).Verdict == Verdict.Transmit) owner = n;
            var reply = FrameBuilder.Tcp(Vip, Port, ClientIp(i), ClientPort(i)).Flags(TcpFlags.Ack).Build();
            var error = FrameBuilder.Icmp("203.0.113.1", Vip).IcmpHeader(3, 4, 0, 1400).Payload(reply.AsSpan(14, 28).ToArray())
                .EthernetDestination(ClusterMac).Build();
            for (var n = 0; n < 3; n++)
            {
                var r = nodes[n].Send(error);
                if (n == owner)
                {
                    Assert.Equal(Verdict.Transmit, r.Verdict);
                    Assert.Equal(TapMac, MacAddress.Read(r.Output!));
                }
                else Assert.Equal(DropReason.NotOwner, r.Drop);
            }
        }
    }
}
