using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests;

/// <summary>Neighbour discovery as the engine runs it: opened only where IPv6 is served, joined to the VIPs'
/// solicited-node groups, announcing, resolving and answering on its own thread, as ARP does for IPv4.</summary>
public class NeighborDiscoveryServiceTests
{
    private static readonly MacAddress DarkMac = MacAddress.Parse("02:00:00:00:03:01");

    /// <summary>What a sent frame is, read with the engine's own view: (type, source, destination, target, flags, MAC option).</summary>
    private static (byte Type, UInt128 Source, UInt128 Destination, UInt128 Target, byte Flags, MacAddress Option)? Read(byte[] frame)
    {
        if (EthernetFrame.TryParse(frame, out var eth) != DropReason.None || Ipv6Packet.TryParse(eth.Payload, out var ip) != DropReason.None) return null;
        if (NeighborDiscoveryPacket.TryParse(ip, out var nd) != NeighborDiscoveryError.None) return null;
        return (nd.Type, ip.Source, ip.Destination, nd.Target, nd.Flags, nd.LinkLayerAddress);
    }

    [Fact]
    public void Build_AllIpv4_OpensNoNeighborDiscoverySocketAndNoLoop()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);

        using var engine = EngineBuilder.Build(Fixtures.Config(), platform.Platform);

        Assert.Empty(platform.NeighborDiscoverySockets);
        Assert.Empty(engine.NeighborDiscoveryResponders);
        Assert.Equal(["lb-worker-eth0-0", "lb-arp-eth0"], engine.Loops.Select(l => l.Name));
    }

    [Fact]
    public async Task Build_Ipv6Services_OpensOneSocketJoinedToEachVipsSolicitedNodeGroup_AndCountsItsLoop()
    {
        var platform = new FakePlatform(Ipv6Fixture.Interfaces);

        var engine = EngineBuilder.Build(Ipv6Fixture.Config(), platform.Platform);

        var socket = Assert.Single(platform.NeighborDiscoverySockets);
        Assert.Equal(Fixtures.InterfaceName, socket.InterfaceName);
        Assert.Equal(["lb-worker-eth0-0", "lb-arp-eth0", "lb-nd-eth0"], engine.Loops.Select(l => l.Name));
        Assert.Single(engine.NeighborDiscoveryResponders);

        engine.Start();
        await Eventually.TrueAsync(() => engine.Loops[2].Rounds() > 1, "the neighbour discovery loop to go round");
        engine.Dispose();
        Assert.Equal([MacAddress.Parse("33:33:ff:00:01:00"), MacAddress.Parse("33:33:ff:00:01:02")], socket.Joined);
        Assert.True(socket.Disposed);
    }

    [Fact]
    public void Build_Ipv6BackendToResolveThroughInterfaceWithoutIpv6Address_IsAStartError()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);

        var error = Assert.Throws<InvalidOperationException>(() => EngineBuilder.Build(Ipv6Fixture.Config(), platform.Platform));

        Assert.Contains($"backend dark6-1 ({Ipv6Fixture.DarkBackendIp}) is reached through eth0, which has no IPv6 address", error.Message);
        Assert.Empty(platform.Claimed);
    }

    [Fact]
    public void Build_Ipv6BackendsWithStaticMacsOnlyThroughInterfaceWithoutIpv6Address_Builds()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        var config = Ipv6Fixture.Config() with { Services = [.. Ipv6Fixture.Config().Services.Where(s => s.Name != "dark6")] };

        using var engine = EngineBuilder.Build(config, platform.Platform);

        Assert.Single(platform.NeighborDiscoverySockets);
    }

    [Fact]
    public async Task Start_AdvertisesTheVips_SolicitsTheBackend_LearnsItsAnswer_AndAnswersASolicitation()
    {
        var platform = new FakePlatform(Ipv6Fixture.Interfaces);
        using var engine = EngineBuilder.Build(Ipv6Fixture.OnlyIpv6(), platform.Platform);
        var socket = platform.NeighborDiscoverySockets[0];

        engine.Start();

        // A lone balancer's two rounds of unsolicited advertisements, to all nodes, from the interface's MAC.
        await Eventually.TrueAsync(() => socket.Sent.Count(f => Read(f)?.Type == NeighborDiscoveryPacket.TypeAdvertisement) >= 4, "two rounds of advertisements");
        var advertised = socket.Sent.Where(f => Read(f)?.Type == NeighborDiscoveryPacket.TypeAdvertisement).Take(4).ToArray();
        Assert.Equal([Ipv6Fixture.WebVip, Ipv6Fixture.DarkVip, Ipv6Fixture.WebVip, Ipv6Fixture.DarkVip], advertised.Select(f => Ipv6.Format(Read(f)!.Value.Target)));
        Assert.All(advertised, f =>
        {
            var nd = Read(f)!.Value;
            Assert.Equal(Ipv6.AllNodesMac, MacAddress.Read(f));
            Assert.Equal(Fixtures.InterfaceMac, MacAddress.Read(f.AsSpan(6)));
            Assert.Equal(Ipv6.AllNodes, nd.Destination);
            Assert.Equal(NeighborDiscoveryPacket.FlagOverride, nd.Flags);
            Assert.Equal(Fixtures.InterfaceMac, nd.Option);
        });

        // The unresolved backend is solicited from the interface's address, at its solicited-node group.
        var solicitation = socket.Sent.First(f => Read(f)?.Type == NeighborDiscoveryPacket.TypeSolicitation);
        var ns = Read(solicitation)!.Value;
        Assert.Equal(Ipv6.Parse(Ipv6Fixture.InterfaceIp), ns.Source);
        Assert.Equal(Ipv6.Parse("ff02::1:ff00:1"), ns.Destination);
        Assert.Equal(Ipv6.Parse(Ipv6Fixture.DarkBackendIp), ns.Target);
        Assert.Equal(Fixtures.InterfaceMac, ns.Option);
        Assert.Equal(MacAddress.Parse("33:33:ff:00:00:01"), MacAddress.Read(solicitation));
        Assert.Equal(["1 neighbour MACs unresolved"], engine.WaitUntilServing(TimeSpan.FromMilliseconds(100)));

        socket.Arrive(Ipv6Fixture.AnswerToUs(Ipv6Fixture.DarkBackendIp, DarkMac));
        Assert.Empty(engine.WaitUntilServing(Eventually.DefaultBound));
        Assert.Equal(1, engine.NeighborDiscoveryResponders[0].Learned);

        socket.Arrive(Ipv6Fixture.Solicitation(Fixtures.ClientMac, Ipv6Fixture.ClientIp, Ipv6Fixture.WebVip));
        await Eventually.TrueAsync(() => engine.NeighborDiscoveryResponders[0].AdvertisementsSent == 1, "the answer to the client's solicitation");
        var answer = await SentTo(socket, Fixtures.ClientMac);
        var na = Read(answer)!.Value;
        Assert.Equal(Ipv6.Parse(Ipv6Fixture.WebVip), na.Source);
        Assert.Equal(Ipv6.Parse(Ipv6Fixture.ClientIp), na.Destination);
        Assert.Equal(NeighborDiscoveryPacket.FlagSolicited | NeighborDiscoveryPacket.FlagOverride, na.Flags);
    }

    [Fact]
    public async Task Backup_AdvertisesNothingUntilItTakesOver()
    {
        var platform = new FakePlatform(Ipv6Fixture.Interfaces);
        var config = Ipv6Fixture.OnlyIpv6() with { Ha = new HaConfig { InitialRole = HaRole.Backup, GarpCount = 3, GarpInterval = TimeSpan.FromMilliseconds(20) } };
        using var engine = EngineBuilder.Build(config, platform.Platform);
        var socket = platform.NeighborDiscoverySockets[0];
        engine.Start();

        // The loop has gone round and solicited the backend, so an advertisement would have gone out by now.
        await Eventually.TrueAsync(() => socket.Sent.Any(f => Read(f)?.Type == NeighborDiscoveryPacket.TypeSolicitation), "the backend solicited");
        Assert.DoesNotContain(socket.Sent, f => Read(f)?.Type == NeighborDiscoveryPacket.TypeAdvertisement);

        engine.Roles.Set(HaRole.Master, "test");

        await Eventually.TrueAsync(() => socket.Sent.Count(f => Read(f)?.Type == NeighborDiscoveryPacket.TypeAdvertisement) == 6, "three advertisements of each VIP");
    }

    private static async Task<byte[]> SentTo(FakeLinkSocket socket, MacAddress destination)
    {
        await Eventually.TrueAsync(() => socket.Sent.Any(f => MacAddress.Read(f) == destination), $"a frame to {destination}");
        return socket.Sent.First(f => MacAddress.Read(f) == destination);
    }
}

/// <summary>A reload that would need neighbour discovery the engine did not open at start is refused, changing nothing.</summary>
public class NeighborDiscoveryReloadTests
{
    [Fact]
    public void Reload_FirstIpv6ServiceOnAnInterface_RefusedNeedsARestart()
    {
        var engine = new TestEngine(Fixtures.Config(), Ipv6Fixture.Interfaces);
        var before = engine.State.Current;

        var result = engine.Engine.Reload(Ipv6Fixture.Config() with { SessionTableSize = engine.Config.SessionTableSize });

        Assert.False(result.Ok);
        Assert.Contains(result.Refusals, r => r.Message.Contains("service web6: the first IPv6 service or backend on eth0 needs a restart", StringComparison.Ordinal));
        Assert.Same(before, engine.State.Current);
    }

    [Fact]
    public void Reload_MoreIpv6OnAnInterfaceWithNeighborDiscovery_Applies()
    {
        var engine = new TestEngine(Ipv6Fixture.Config(), Ipv6Fixture.Interfaces);
        var more = Ipv6Fixture.Service("more6", "2001:db8::104", Fixtures.Backend("more6-1", "2001:db8:4::1", null));

        var result = engine.Engine.Reload(engine.Config with { Services = [.. engine.Config.Services, more] });

        Assert.True(result.Ok, string.Join("; ", result.Refusals.Select(r => r.Message)));
        Assert.Contains(Ipv6.Parse("2001:db8::104"), engine.Nd.VipsOn(0));
    }

    [Fact]
    public async Task Reload_AddsAnIpv6Vip_ItsSolicitedNodeGroupIsJoined()
    {
        var platform = new FakePlatform(Ipv6Fixture.Interfaces);
        using var engine = EngineBuilder.Build(Ipv6Fixture.Config(), platform.Platform);
        var socket = platform.NeighborDiscoverySockets[0];
        engine.Start();
        var more = Ipv6Fixture.Service("more6", "2001:db8::1:204", Fixtures.Backend("more6-1", "2001:db8:4::1", MacAddress.Parse("02:00:00:00:04:01")));

        Assert.True(engine.Reload(engine.Config with { Services = [.. engine.Config.Services, more] }).Ok);

        var group = MacAddress.Parse("33:33:ff:01:02:04");
        await Eventually.TrueAsync(() => { lock (socket.Joined) return socket.Joined.Contains(group); }, "the new VIP's group joined");
    }

    [Fact]
    public void Reload_Ipv6BackendToResolveThroughInterfaceWithoutIpv6Address_Refused()
    {
        var staticOnly = Ipv6Fixture.Config() with { Services = [.. Ipv6Fixture.Config().Services.Where(s => s.Name != "dark6")] };
        var engine = new TestEngine(staticOnly, Fixtures.Interfaces);

        var result = engine.Engine.Reload(Ipv6Fixture.Config() with { SessionTableSize = engine.Config.SessionTableSize });

        Assert.False(result.Ok);
        Assert.Contains(result.Refusals, r => r.Message.Contains("backend dark6-1 is reached through eth0, which has no IPv6 address", StringComparison.Ordinal));
    }
}
