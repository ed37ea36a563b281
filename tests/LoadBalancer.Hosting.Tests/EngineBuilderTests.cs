using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting;
using LoadBalancer.Hosting.Platform;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests;

/// <summary>What the composition root opens and wires for each mode, seen through the fake platform.</summary>
public class EngineBuilderTests
{
    private static Engine Build(BalancerConfig config, FakePlatform platform) => EngineBuilder.Build(config, platform.Platform);

    [Fact]
    public void Build_DrWithTwoWorkers_OneClientKeyedReceiverPerWorkerAndATransmitterPerInterface()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);

        using var engine = Build(Fixtures.Config() with { Workers = 2 }, platform);

        Assert.Equal(2, engine.Workers.Count);
        Assert.Equal(["eth0", "eth0"], platform.Receivers.Select(r => r.Name));
        Assert.All(platform.Receivers, r => Assert.Equal(FanoutKey.ClientIsSource, r.FanoutKey));
        Assert.Single(platform.Receivers.Select(r => r.FanoutGroup).Distinct());
        Assert.NotNull(platform.Receivers[0].FanoutGroup);
        Assert.Equal(["eth0", "eth0"], platform.Transmitters.Select(t => t.Interface));
        Assert.Empty(platform.Taps);
        Assert.Equal(["eth0"], platform.ArpSockets.Select(a => a.InterfaceName));
    }

    [Fact]
    public void Build_OneWorker_NoFanoutGroup()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);

        using var engine = Build(Fixtures.Config(), platform);

        Assert.Null(Assert.Single(platform.Receivers).FanoutGroup);
    }

    [Fact]
    public void Build_Nat_EachWorkerReadsBothSidesKeyedOnTheClient()
    {
        var platform = new FakePlatform(NatFixture.Interfaces);

        using var engine = Build(NatFixture.Config() with { Workers = 2 }, platform);

        Assert.Equal(["front", "back", "front", "back"], platform.Receivers.Select(r => r.Name));
        Assert.Equal([FanoutKey.ClientIsSource, FanoutKey.ClientIsDestination, FanoutKey.ClientIsSource, FanoutKey.ClientIsDestination],
            platform.Receivers.Select(r => r.FanoutKey));
        Assert.Equal([0, 1, 0, 1], platform.Receivers.Select(r => r.InterfaceIndex));
        Assert.Equal(["front", "back", "front", "back"], platform.Transmitters.Select(t => t.Interface));
        Assert.Equal(["front", "back"], platform.ArpSockets.Select(a => a.InterfaceName));
    }

    [Fact]
    public void Build_NatOnTwoClientInterfaces_RefusedAndEverythingOpenedIsClosed()
    {
        var platform = new FakePlatform([.. NatFixture.Interfaces, Fixtures.Eth1]);
        var config = NatFixture.Config();
        var second = config.Services[1] with { Interface = "eth1" };

        var error = Assert.Throws<InvalidOperationException>(() => Build(config with { Services = [config.Services[0], second] }, platform));

        Assert.Contains("single client-side interface", error.Message);
        Assert.Empty(platform.Receivers);
    }

    [Fact]
    public void Build_VanishedInterface_FailsWithItsNameAndClosesWhatItOpened()
    {
        var platform = new FakePlatform(NatFixture.Interfaces);
        platform.FailingReceivers.Add("back");

        var error = Assert.Throws<InvalidOperationException>(() => Build(NatFixture.Config(), platform));

        Assert.Contains("back", error.Message);
        Assert.All(platform.Receivers, r => Assert.True(r.Disposed));
    }

    [Fact]
    public void Build_UnknownInterface_Fails()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        var config = Fixtures.Config() with { Services = [Fixtures.Service("x", "10.9.9.9", 1, TransportProtocol.Tcp) with { Interface = "nope" }] };

        var error = Assert.Throws<InvalidOperationException>(() => Build(config, platform));

        Assert.Contains("nope", error.Message);
    }

    [Fact]
    public void Build_ClusterIp_CreatesTheTapJoinsTheClusterMacAndGivesTheTapNoArp()
    {
        var platform = new FakePlatform([new TestInterface("eth", ClusterFixture.NodeMac, FrameBuilder.Ip(ClusterFixture.NodeIp(1)))], ClusterFixture.TapMac);

        using var engine = Build(ClusterFixture.Config(1), platform);

        var tap = Assert.Single(platform.Taps);
        Assert.StartsWith("lbc", tap.Name);
        Assert.Equal(tap.Name, engine.Interfaces.Name(1));
        Assert.Equal(ClusterFixture.TapMac, engine.Interfaces.Mac(1));
        Assert.Equal([ClusterFixture.ClusterMac], Assert.Single(platform.Receivers).Joined);
        Assert.Equal([ClusterFixture.ClusterMac], Assert.Single(platform.ArpSockets).Joined);
        Assert.Equal(["eth"], platform.Transmitters.Select(t => t.Interface));
        Assert.Same(tap, engine.Workers[0].Transmitters[1]);
    }

    [Fact]
    public void Build_ClusterIp6_TapTakesIpv6_RingAndNeighbourDiscoveryJoinTheClusterMac()
    {
        var eth = new TestInterface("eth", ClusterFixture.NodeMac, FrameBuilder.Ip(ClusterFixture.NodeIp(1)), 1500, Ipv6.Parse(ClusterFixture.NodeIp6(1)));
        var platform = new FakePlatform([eth], ClusterFixture.TapMac);

        using var engine = Build(ClusterFixture.Config6(1), platform);

        Assert.True(Assert.Single(platform.Taps).Ipv6);
        Assert.Equal([ClusterFixture.ClusterMac6], Assert.Single(platform.Receivers).Joined);
        // Neighbour discovery on eth only (not on the TAP), joined to the cluster MAC for a router's unicast re-probes.
        var nd = Assert.Single(platform.NeighborDiscoverySockets);
        Assert.Equal("eth", nd.InterfaceName);
        Assert.Contains(ClusterFixture.ClusterMac6, nd.Joined);
    }

    [Fact]
    public void Build_ClusterIpv4Only_TapIsNotAskedToTakeIpv6() =>
        Assert.False(BuildTap(ClusterFixture.Config(1)).Ipv6);

    private static FakeTap BuildTap(BalancerConfig config)
    {
        var platform = new FakePlatform([new TestInterface("eth", ClusterFixture.NodeMac, FrameBuilder.Ip(ClusterFixture.NodeIp(1)))], ClusterFixture.TapMac);
        using var engine = Build(config, platform);
        return Assert.Single(platform.Taps);
    }

    [Fact]
    public void Build_ClusterIp6_ReInjectsAnOwnedIpv6FlowThroughTheTap()
    {
        var eth = new TestInterface("eth", ClusterFixture.NodeMac, FrameBuilder.Ip(ClusterFixture.NodeIp(1)), 1500, Ipv6.Parse(ClusterFixture.NodeIp6(1)));
        var platform = new FakePlatform([eth], ClusterFixture.TapMac);
        using var engine = EngineBuilder.Build(ClusterFixture.Config6(1, initial: BackendHealth.Healthy), platform.Platform);
        var flow = ClusterFixture.Flows6(1).First();
        var syn = ClusterFixture.Tcp6(flow, TcpFlags.Syn);

        platform.Receivers[0].Arrive(syn);
        engine.Workers[0].RunOnce();

        var (frame, _) = Assert.Single(platform.Taps[0].Frames.Sent);
        Assert.Equal(ClusterFixture.TapMac, MacAddress.Read(frame));
        Assert.Equal(syn.AsSpan(6).ToArray(), frame.AsSpan(6).ToArray());
    }

    [Fact]
    public void Build_ClusterIp_ReInjectsAnOwnedFlowThroughTheTap()
    {
        var platform = new FakePlatform([new TestInterface("eth", ClusterFixture.NodeMac, FrameBuilder.Ip(ClusterFixture.NodeIp(1)))], ClusterFixture.TapMac);
        using var engine = EngineBuilder.Build(ClusterFixture.Config(1, initial: BackendHealth.Healthy), platform.Platform);
        var flow = ClusterFixture.Flows(1).First();

        platform.Receivers[0].Arrive(ClusterFixture.Tcp(flow, TcpFlags.Syn));
        engine.Workers[0].RunOnce();

        var (frame, _) = Assert.Single(platform.Taps[0].Frames.Sent);
        Assert.Equal(ClusterFixture.TapMac, MacAddress.Read(frame));
    }

    /// <summary>A second engine on an interface the first one serves would replace its ingress drop (and remove it on
    /// exit): it is refused before it opens anything, and the first keeps its claim.</summary>
    [Fact]
    public void Build_InterfaceAnotherEngineServes_RefusedNamingItFirstUntouched()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        using var first = Build(Fixtures.Config(), platform);
        var receivers = platform.Receivers.Count;

        var e = Assert.Throws<InterfaceInUseException>(() => Build(Fixtures.Config() with { ControlSocket = "/run/lb/other.sock" }, platform));

        Assert.Equal("eth0", e.InterfaceName);
        Assert.Contains("eth0", e.Message);
        Assert.Equal(receivers, platform.Receivers.Count);
        Assert.Contains("eth0", platform.Claimed);
        first.Dispose();
        Assert.Empty(platform.Claimed);
        using var again = Build(Fixtures.Config(), platform);
    }
}
