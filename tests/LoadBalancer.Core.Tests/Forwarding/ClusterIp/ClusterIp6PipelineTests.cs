using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

using static LoadBalancer.TestKit.ClusterFixture;

namespace LoadBalancer.Core.Tests.Forwarding.ClusterIp;

/// <summary>CLUSTERIP6 through the real pipeline, mirroring <see cref="ClusterIpPipelineTests"/>: three nodes' engines see
/// the same IPv6 frames, and ownership, takeover, the transitions, quorum and ICMPv6 errors follow the IPv4 rules.</summary>
public sealed class ClusterIp6PipelineTests
{
    private static readonly long Transition = (long)FlowTimeoutsConfig.Default.TcpEstablished.TotalMilliseconds;
    private static readonly long UdpTransition = (long)FlowTimeoutsConfig.Default.Udp.TotalMilliseconds;

    private static Func<ServiceConfig, BackendConfig, BackendRuntime> Alive(params int[] ids) =>
        (_, b) => new BackendRuntime(ids.Any(id => b.Name == NodeName(id)) ? BackendHealth.Healthy : BackendHealth.Unhealthy, BackendIntent.Active, b.Weight);

    [Fact]
    public void ThreeNodes_EachNewFlowAcceptedByExactlyOne_AndReinjectedToTheTapUnchanged()
    {
        var clock = new FakeClock();
        var nodes = new[] { Engine6(1, clock), Engine6(2, clock), Engine6(3, clock) };
        var accepted = new int[3];
        for (var i = 0; i < 3000; i++)
        {
            var frame = Tcp6(i, TcpFlags.Syn);
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
                    Assert.Equal(frame.AsSpan(6).ToArray(), r.Output!.AsSpan(6).ToArray()); // hop limit and all: the TAP is this host
                }
                else Assert.Equal(DropReason.NotOwner, r.Drop);
            }
            Assert.Equal(1, takers);
        }
        Assert.All(accepted, a => Assert.InRange(a, 900, 1100));
        Assert.Equal(nodes[0].Cluster("web6").Table.Digest, nodes[2].Cluster("web6").Table.Digest);
    }

    [Fact]
    public void Owner_IsTheClusterTablesOwnerOfTheIpv6OwnershipHash()
    {
        var clock = new FakeClock();
        var node1 = Engine6(1, clock);
        var table = node1.Cluster("web6").Table;
        for (var i = 0; i < 500; i++)
            Assert.Equal(table.OwnerOf(FlowHash6(i)) == 1, node1.Send(Tcp6(i, TcpFlags.Syn)).Verdict == Verdict.Transmit);
    }

    [Theory]
    [InlineData(ClusterHash.SourceIp)]
    [InlineData(ClusterHash.SourceIpSourcePort)]
    [InlineData(ClusterHash.SourceIpSourcePortDestinationPort)]
    public void OwnershipHash6_IsHashwordOverTheAddressWordsInWireOrderAndTheModesPorts(ClusterHash mode)
    {
        var address = Ipv6.Parse("2001:db8:ffff::1:2");
        uint[] words = [0x20010db8, 0xffff0000, 0, 0x00010002];
        uint[] key = mode switch
        {
            ClusterHash.SourceIp => words,
            ClusterHash.SourceIpSourcePort => [.. words, 41000],
            _ => [.. words, (41000u << 16) | 80],
        };

        Assert.Equal(Lookup3.HashWords(key, 0x5eed), ClusterFlowHash.Compute6(mode, address, 41000, 80, 0x5eed));
    }

    [Fact]
    public void NodeDies_SurvivorsTakeItsNewFlowsAtOnce_KeepTheirOwnEstablishedOnes()
    {
        var clock = new FakeClock();
        var nodes = new[] { Engine6(1, clock), Engine6(2, clock), Engine6(3, clock) };
        var owner = new int[3000];
        for (var i = 0; i < owner.Length; i++)
            for (var n = 0; n < 3; n++)
                if (nodes[n].Send(Tcp6(i, TcpFlags.Syn)).Verdict == Verdict.Transmit) owner[i] = n + 1;

        foreach (var node in nodes) node.Reload(node.Config, Alive(1, 3));
        for (var i = 0; i < owner.Length; i++)
        {
            if (owner[i] == 2) continue;
            var other = owner[i] == 1 ? nodes[2] : nodes[0];
            Assert.Equal(Verdict.Transmit, nodes[owner[i] - 1].Send(Tcp6(i, TcpFlags.Ack)).Verdict);
            Assert.Equal(DropReason.NotOwner, other.Send(Tcp6(i, TcpFlags.Ack)).Drop);
        }
        for (var i = 3000; i < 4000; i++)
        {
            var takers = new[] { nodes[0], nodes[2] }.Count(n => n.Send(Tcp6(i, TcpFlags.Syn)).Verdict == Verdict.Transmit);
            Assert.Equal(1, takers);
        }
    }

    [Fact]
    public void GainedBucket_DuringTransition_TcpOnlyNewFlows_ThenEverything()
    {
        var clock = new FakeClock();
        var node1 = Engine6(1, clock);
        var before = node1.Cluster("web6").Table;
        node1.Reload(node1.Config, Alive(1, 3));
        var after = node1.Cluster("web6").Table;
        var gained = Enumerable.Range(0, 5000).Where(i => before.OwnerOf(FlowHash6(i)) == 2 && after.OwnerOf(FlowHash6(i)) == 1).Take(2).ToArray();
        Assert.Equal(2, gained.Length);

        Assert.Equal(DropReason.NotOwner, node1.Send(Tcp6(gained[0], TcpFlags.Ack)).Drop);
        Assert.Equal(Verdict.Transmit, node1.Send(Tcp6(gained[0], TcpFlags.Syn)).Verdict);
        Assert.Equal(Verdict.Transmit, node1.Send(Tcp6(gained[0], TcpFlags.Ack)).Verdict);
        Assert.Equal(DropReason.NotOwner, node1.Send(Tcp6(gained[1], TcpFlags.Ack)).Drop);
        clock.Advance(Transition + 1);
        Assert.Equal(Verdict.Transmit, node1.Send(Tcp6(gained[1], TcpFlags.Ack)).Verdict);
    }

    [Fact]
    public void NodeReturns_FlowsAcceptedMeanwhileStayWithTheirNode()
    {
        var clock = new FakeClock();
        var node1 = Engine6(1, clock);
        var node2 = Engine6(2, clock);
        foreach (var n in new[] { node1, node2 }) n.Reload(n.Config, Alive(1, 3));
        var meanwhile = Enumerable.Range(0, 3000).Where(i => node1.Send(Tcp6(i, TcpFlags.Syn)).Verdict == Verdict.Transmit).ToArray();

        foreach (var n in new[] { node1, node2 }) n.Reload(n.Config, Alive(1, 2, 3));
        foreach (var i in meanwhile)
        {
            Assert.Equal(Verdict.Transmit, node1.Send(Tcp6(i, TcpFlags.Ack)).Verdict);
            Assert.Equal(DropReason.NotOwner, node2.Send(Tcp6(i, TcpFlags.Ack)).Drop);
        }
    }

    [Fact]
    public void Udp_BucketGainedFromDeadNode_AcceptedAtOnce_FromLiveNode_AfterTheUdpTimeout()
    {
        var clock = new FakeClock();
        var node1 = Engine6(1, clock, 53, TransportProtocol.Udp);
        var full = node1.Cluster("web6").Table;
        clock.Advance(UdpTransition + 1);
        node1.Reload(node1.Config, Alive(1, 3));
        var fromDead = Enumerable.Range(0, 3000).Count(i => node1.Send(Udp6(i)).Verdict == Verdict.Transmit);
        Assert.InRange(fromDead, 1300, 1700);

        var node2 = Engine6(2, clock, 53, TransportProtocol.Udp);
        clock.Advance(UdpTransition + 1);
        node2.Reload(node2.Config, Alive(1, 3));
        node2.Reload(node2.Config, Alive(1, 2, 3));
        var regained = Enumerable.Range(5000, 3000).Where(i => full.OwnerOf(FlowHash6(i, 53)) == 2).ToArray();
        Assert.NotEmpty(regained);
        Assert.All(regained, i => Assert.Equal(DropReason.NotOwner, node2.Send(Udp6(i)).Drop));
        clock.Advance(UdpTransition + 1);
        Assert.All(regained, i => Assert.Equal(Verdict.Transmit, node2.Send(Udp6(i)).Verdict));
    }

    [Fact]
    public void Udp_BackFromBeingCutOff_ItsOldFlowsAreNotTrusted_TheOthersTookThemOver()
    {
        var clock = new FakeClock();
        var node3 = Engine6(3, clock, 53, TransportProtocol.Udp);
        clock.Advance(UdpTransition + 1);
        var own = Enumerable.Range(0, 3000).Where(i => node3.Cluster("web6").Table.OwnerOf(FlowHash6(i, 53)) == 3).Take(20).ToArray();
        Assert.All(own, i => Assert.Equal(Verdict.Transmit, node3.Send(Udp6(i)).Verdict));

        node3.Reload(node3.Config, Alive(3));
        clock.Advance(3000);
        node3.Reload(node3.Config, Alive(1, 2, 3));
        Assert.All(own, i => Assert.Equal(DropReason.NotOwner, node3.Send(Udp6(i)).Drop));
        clock.Advance(UdpTransition + 1);
        Assert.All(own, i => Assert.Equal(Verdict.Transmit, node3.Send(Udp6(i)).Verdict));
    }

    [Fact]
    public void QuorumLost_OwnBucketsGuarded_UnknownTcpOnlyFromSyn_RememberedFlowsGoOn()
    {
        var clock = new FakeClock();
        var node3 = Engine6(3, clock);
        clock.Advance(Transition + 1);
        var own = Enumerable.Range(0, 3000).Where(i => node3.Cluster("web6").Table.OwnerOf(FlowHash6(i)) == 3).Take(2).ToArray();
        Assert.Equal(Verdict.Transmit, node3.Send(Tcp6(own[0], TcpFlags.Ack)).Verdict);

        node3.Reload(node3.Config, Alive(3));
        Assert.False(node3.Cluster("web6").HasQuorum);
        Assert.Equal(DropReason.NotOwner, node3.Send(Tcp6(own[1], TcpFlags.Ack)).Drop);
        Assert.Equal(DropReason.NotOwner, node3.Send(Tcp6(own[1], TcpFlags.Syn)).Drop);
        Assert.Equal(Verdict.Transmit, node3.Send(Tcp6(own[0], TcpFlags.Ack)).Verdict);
    }

    /// <summary>Packet Too Big from a router on the reply path is flooded to every node; only the node that takes the
    /// flow it quotes re-injects it, so path MTU discovery works on the node that serves the connection.</summary>
    [Fact]
    public void PacketTooBigToVip_AcceptedByTheFlowsOwnerOnly()
    {
        var clock = new FakeClock();
        var nodes = new[] { Engine6(1, clock), Engine6(2, clock), Engine6(3, clock) };
        for (var i = 0; i < 300; i++)
        {
            var owner = -1;
            for (var n = 0; n < 3; n++)
                if (nodes[n].Send(Tcp6(i, TcpFlags.Syn)).Verdict == Verdict.Transmit) owner = n;
            var reply = Ipv6FrameBuilder.Tcp(Vip6, Port, ClientIp6(i), ClientPort(i)).Flags(TcpFlags.Ack).Payload(new byte[64]).Build();
            var error = Ipv6FrameBuilder.Icmpv6("2001:db8:eeee::1", Vip6, Icmpv6Quote.PacketTooBig).IcmpRest(1280).Payload(reply.AsSpan(14).ToArray())
                .Macs(ClusterMac6, FrameBuilder.DefaultSourceMac).Build();
            for (var n = 0; n < 3; n++)
            {
                var r = nodes[n].Send(error);
                if (n == owner)
                {
                    Assert.Equal(Verdict.Transmit, r.Verdict);
                    Assert.Equal(TapMac, MacAddress.Read(r.Output!));
                    Assert.Equal(error.AsSpan(6).ToArray(), r.Output!.AsSpan(6).ToArray());
                }
                else Assert.Equal(DropReason.NotOwner, r.Drop);
            }
        }
    }

    [Fact]
    public void NeighborSolicitationForVip6_AnsweredWithTheClusterMacInTheOption_FromTheNodesUnicastMac()
    {
        var node1 = Engine6(1, new FakeClock());
        var routerMac = MacAddress.Parse("02:00:00:00:ee:01");

        var answer = node1.HandleNd(Ipv6Fixture.Solicitation(routerMac, "2001:db8::1", Vip6));

        Assert.NotNull(answer);
        Assert.Equal(routerMac, MacAddress.Read(answer));
        Assert.Equal(NodeMac, MacAddress.Read(answer.AsSpan(6)));
        Assert.Equal(DropReason.None, EthernetFrame.TryParse(answer, out var eth));
        Assert.Equal(DropReason.None, Ipv6Packet.TryParse(eth.Payload, out var ip));
        Assert.Equal(NeighborDiscoveryError.None, NeighborDiscoveryPacket.TryParse(ip, out var nd));
        Assert.True(nd.IsAdvertisement && nd.IsSolicited && nd.HasLinkLayerAddress);
        Assert.Equal(Ipv6.Parse(Vip6), nd.Target);
        Assert.Equal(ClusterMac6, nd.LinkLayerAddress);
    }

    [Fact]
    public void DualStack_Ipv4AndIpv6ClusterServices_OwnTheirFlowsApartOnOneTap()
    {
        var clock = new FakeClock();
        var config = Config(1, initial: BackendHealth.Healthy);
        config = config with { Services = [.. config.Services, .. Config6(1, initial: BackendHealth.Healthy).Services] };
        var node1 = new TestEngine(config, [new("eth", NodeMac, FrameBuilder.Ip(NodeIp(1)), 1500, Ipv6.Parse(NodeIp6(1)))], clock: clock, tapMac: TapMac);

        var v4 = node1.Send(Tcp(ClusterFixture.Flows(1).First(), TcpFlags.Syn));
        var v6 = node1.Send(Tcp6(Flows6(1).First(), TcpFlags.Syn));

        Assert.Equal(Verdict.Transmit, v4.Verdict);
        Assert.Equal(Verdict.Transmit, v6.Verdict);
        Assert.Equal(v4.OutputMeta.EgressInterface, v6.OutputMeta.EgressInterface);
        Assert.Equal(DropReason.NotOwner, node1.Send(Tcp6(Flows6(1, owned: false).First(), TcpFlags.Syn)).Drop);
    }
}
