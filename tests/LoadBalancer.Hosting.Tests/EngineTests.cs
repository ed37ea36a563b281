using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests;

/// <summary>Starting and stopping an engine: its threads, what it asks of the kernel, and that it undoes it.</summary>
public class EngineTests
{
    [Fact]
    public void Build_WithoutStart_InstallsNoIngressDropAndStartsNoThread()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);

        using var engine = EngineBuilder.Build(Fixtures.Config(), platform.Platform);

        Assert.Empty(platform.IngressDrops);
        Assert.Empty(platform.Heartbeats);
    }

    [Fact]
    public void StartThenDispose_Nat_DropsVipsOnTheFrontAndBackendRepliesOnTheBack_ThenRemovesThem()
    {
        var platform = new FakePlatform(NatFixture.Interfaces);
        var engine = EngineBuilder.Build(NatFixture.Config(), platform.Platform);

        engine.Start();

        var front = platform.IngressDrops.Single(d => d.Interface == "front");
        Assert.Equal([Ipv4.Parse(NatFixture.Vip)], front.Vips);
        Assert.Empty(front.Replies);
        var back = platform.IngressDrops.Single(d => d.Interface == "back");
        Assert.Empty(back.Vips);
        Assert.Equal(2, back.Replies.Length);
        Assert.Contains(back.Replies, r => r.Address == Ipv4.Parse(NatFixture.Rs1) && r.Port == NatFixture.Rs1WebPort && r.Protocol == IpProtocols.Tcp);
        Assert.Contains(back.Replies, r => r.Port == NatFixture.EchoPort && r.Protocol == IpProtocols.Udp);
        // The balancer's own conversations (health checks) to its back address stay the kernel's.
        Assert.Equal(Ipv4.Parse("10.99.4.1"), back.LocalAddress);

        engine.Dispose();

        Assert.All(platform.IngressDrops, d => Assert.True(d.Removed));
        Assert.All(platform.Receivers, r => Assert.True(r.Disposed));
        Assert.All(platform.ArpSockets, a => Assert.True(a.Disposed));
    }

    [Fact]
    public async Task Start_WorkerThreadForwardsAFrame_AndArpAnnouncesTheVips()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        using var engine = EngineBuilder.Build(Fixtures.Config(), platform.Platform);

        engine.Start();
        platform.Receivers[0].Arrive(Fixtures.WebTcp().Build());

        var transmitter = platform.Transmitters[0].Transmitter;
        await Eventually.TrueAsync(() => transmitter.SentSnapshot().Count == 1, "the worker thread to forward the frame");
        Assert.Equal(Fixtures.WebBackendMac, MacAddress.Read(transmitter.SentSnapshot()[0].Frame));
        // Gratuitous ARP for every VIP served on the interface, from the interface's MAC.
        var arp = platform.ArpSockets[0];
        await Eventually.TrueAsync(() => arp.Sent.Count >= 4, "gratuitous ARP for the four VIPs");
        var announced = arp.Sent.Take(4).Select(f => Ipv4.Format(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(14 + 14)))).ToArray();
        Assert.Equal([Fixtures.WebVip, Fixtures.PoolVip, Fixtures.DarkVip, Fixtures.DrainedVip], announced);
        Assert.All(arp.Sent.Take(4), f => Assert.Equal(Fixtures.InterfaceMac, MacAddress.Read(f.AsSpan(6))));
    }

    [Fact]
    public async Task Start_Cpus_PinsEachWorker()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        using var engine = EngineBuilder.Build(Fixtures.Config() with { Workers = 2, Cpus = [1] }, platform.Platform);

        engine.Start();

        await Eventually.TrueAsync(() => platform.PinnedCpus.Count == 2, "both workers pinned");
        Assert.Equal([1, 1], platform.PinnedCpus.ToArray());
    }

    [Fact]
    public void StartThenDispose_ClusterIp_ListensForPeersOnTheNodeAddress_ThenCloses()
    {
        var platform = new FakePlatform([new TestInterface("eth", ClusterFixture.NodeMac, FrameBuilder.Ip(ClusterFixture.NodeIp(2)))]);
        var engine = EngineBuilder.Build(ClusterFixture.Config(2), platform.Platform);

        engine.Start();

        var listener = Assert.Single(platform.Heartbeats);
        Assert.Equal(ClusterFixture.NodeIp(2), listener.Address.ToString());
        Assert.Equal(ClusterConfig.DefaultHeartbeatPort, listener.Port);
        Assert.Equal([Ipv4.Parse(ClusterFixture.Vip)], Assert.Single(platform.IngressDrops).Vips);

        engine.Dispose();

        Assert.True(listener.Closed);
        Assert.True(platform.Taps[0].Disposed);
    }

    [Fact]
    public async Task WorkerFails_StopsTheEngine()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        using var engine = EngineBuilder.Build(Fixtures.Config(), platform.Platform);
        platform.Receivers[0].FailNextPoll = new InvalidOperationException("ring gone");

        engine.Start();

        await Eventually.TrueAsync(() => engine.Stopping.IsCancellationRequested, "the engine to stop after its worker failed");
    }

    [Fact]
    public void WaitUntilServing_NotStarted_NamesEveryLoopNotRunning()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        using var engine = EngineBuilder.Build(Fixtures.Config(), platform.Platform);

        var missing = engine.WaitUntilServing(TimeSpan.FromMilliseconds(50));

        Assert.Contains($"lb-worker-{Fixtures.InterfaceName}-0 not running", missing);
        Assert.Contains($"lb-arp-{Fixtures.InterfaceName} not running", missing);
        Assert.Equal(["lb-worker-eth0-0", "lb-arp-eth0"], engine.Loops.Select(l => l.Name));
    }

    [Fact]
    public async Task WaitUntilServing_Started_WaitsForTheUnresolvedBackendsMac_AndIdleLoopsKeepGoingRound()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        using var engine = EngineBuilder.Build(Fixtures.Config(), platform.Platform);
        engine.Start();

        // dark-1 has no configured MAC and nobody answers the engine's ARP yet: the loops run, the MAC is missing.
        Assert.Equal(["1 neighbour MACs unresolved"], engine.WaitUntilServing(TimeSpan.FromMilliseconds(100)));
        var reply = new byte[60];
        var darkMac = MacAddress.Parse("02:00:00:00:03:01");
        ArpPacket.WriteFrame(reply, ArpPacket.OperationReply, Fixtures.InterfaceMac, darkMac, Ipv4.Parse(Fixtures.DarkBackendIp),
            Fixtures.InterfaceMac, Ipv4.Parse(Fixtures.InterfaceIp));
        platform.ArpSockets[0].Arrive(reply);

        Assert.Empty(engine.WaitUntilServing(Eventually.DefaultBound));
        // No traffic at all: the loops still go round (their polls are bounded), which is what the watchdog reads.
        var before = engine.Loops.Select(l => l.Rounds()).ToArray();
        await Eventually.TrueAsync(() => engine.Loops.Select((l, i) => l.Rounds() > before[i] + 1).All(moved => moved), "every idle loop to go round twice more");
    }
}
