using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding;

/// <summary>Neighbour discovery for IPv6 VIPs and backends, under the rules <see cref="ArpResponderTests"/> holds ARP to.</summary>
public class NeighborDiscoveryResponderTests
{
    private static readonly MacAddress DarkMac = MacAddress.Parse("02:00:00:00:03:01");
    private const byte SolicitedOverride = NeighborDiscoveryPacket.FlagSolicited | NeighborDiscoveryPacket.FlagOverride;

    private static TestEngine Engine(BalancerConfig? config = null) => new(config ?? Ipv6Fixture.Config(), Ipv6Fixture.Interfaces);

    /// <summary>A second interface, eth1 (also with an IPv6 address), where one more IPv6 service reaches its backend:
    /// eth1 serves no VIP.</summary>
    private static TestEngine TwoPortEngine()
    {
        var config = Ipv6Fixture.Config();
        var far = Ipv6Fixture.Service("far6", Ipv6Fixture.WebVip, Fixtures.Backend("far6-1", "2001:db8:10::1", null)) with { Port = 81, BackendInterface = "eth1" };
        var eth1 = Fixtures.Eth1 with { Address6 = Ipv6.Parse("2001:db8:10::fe") };
        return new(config with { Services = [.. config.Services, far] }, [.. Ipv6Fixture.Interfaces, eth1]);
    }

    private static byte[] ClientSolicitation(string target) =>
        Ipv6Fixture.Solicitation(Fixtures.ClientMac, Ipv6Fixture.ClientIp, target);

    private static byte[] ExpectedReply(string vip, MacAddress to, MacAddress advertised) =>
        Ipv6Fixture.Advertisement(to, Fixtures.InterfaceMac, vip, Ipv6Fixture.ClientIp, vip, SolicitedOverride, advertised);

    [Fact]
    public void Handle_SolicitationForVipOnIngressInterface_AnswersWithSolicitedOverridingAdvertisementOfOurMac()
    {
        var engine = Engine();

        var reply = engine.HandleNd(ClientSolicitation(Ipv6Fixture.WebVip));

        Assert.NotNull(reply);
        Assert.Equal(FrameBuilder.Hex(ExpectedReply(Ipv6Fixture.WebVip, Fixtures.ClientMac, Fixtures.InterfaceMac)), FrameBuilder.Hex(reply));
        Assert.Equal(1, engine.Nd.AdvertisementsSent);
    }

    [Fact]
    public void Handle_SolicitationForEveryIpv6Vip_IsAnswered_AndNoIpv4OneIs()
    {
        var engine = Engine();

        Assert.NotNull(engine.HandleNd(ClientSolicitation(Ipv6Fixture.WebVip)));
        Assert.NotNull(engine.HandleNd(ClientSolicitation(Ipv6Fixture.DarkVip)));
        // An IPv4 VIP written IPv4-mapped is not an IPv6 VIP.
        Assert.Null(engine.HandleNd(ClientSolicitation("::ffff:" + Fixtures.WebVip)));
    }

    [Fact]
    public void Handle_UnicastSolicitationWithoutOption_AnsweredToItsEthernetSource()
    {
        var engine = Engine();
        var frame = new byte[EthernetFrame.HeaderLength + NeighborDiscoveryPacket.PacketLength];
        Fixtures.InterfaceMac.Write(frame);
        Fixtures.ClientMac.Write(frame.AsSpan(6));
        frame[12] = 0x86;
        frame[13] = 0xDD;
        var n = NeighborDiscoveryPacket.WriteSolicitation(frame.AsSpan(14), Ipv6.Parse(Ipv6Fixture.ClientIp), Ipv6.Parse(Ipv6Fixture.WebVip),
            Ipv6.Parse(Ipv6Fixture.WebVip), Fixtures.ClientMac);
        // Drop the option: a neighbour unreachability probe may leave it out.
        frame[14 + 5] -= 8;
        var unicast = ReferenceChecksum.ResumIcmpv6(frame[..(14 + n - 8)]);

        var reply = engine.HandleNd(unicast);

        Assert.Equal(FrameBuilder.Hex(ExpectedReply(Ipv6Fixture.WebVip, Fixtures.ClientMac, Fixtures.InterfaceMac)), FrameBuilder.Hex(reply));
    }

    [Fact]
    public void Handle_OptionNamesAnotherMacThanTheEthernetSource_AnswerGoesToTheOption()
    {
        var engine = Engine();
        var frame = ClientSolicitation(Ipv6Fixture.WebVip);
        var router = MacAddress.Parse("02:00:00:00:aa:77");
        router.Write(frame.AsSpan(6));

        var reply = engine.HandleNd(frame);

        Assert.Equal(Fixtures.ClientMac, MacAddress.Read(reply));
        Assert.Equal(Fixtures.InterfaceMac, MacAddress.Read(reply.AsSpan(6)));
    }

    [Fact]
    public void Handle_VlanTaggedSolicitation_ReplyKeepsTheTag()
    {
        var engine = Engine();
        var frame = Tagged(ClientSolicitation(Ipv6Fixture.WebVip), 55);

        var reply = engine.HandleNd(frame);

        Assert.Equal(FrameBuilder.Hex(Tagged(ExpectedReply(Ipv6Fixture.WebVip, Fixtures.ClientMac, Fixtures.InterfaceMac), 55)), FrameBuilder.Hex(reply));
    }

    [Fact]
    public void Handle_SolicitationForVipOnOtherPort_IsNotAnswered()
    {
        var engine = TwoPortEngine();
        var frame = ClientSolicitation(Ipv6Fixture.WebVip);

        Assert.Null(engine.HandleNd(frame, interfaceIndex: 1));
        Assert.NotNull(engine.HandleNd(frame, interfaceIndex: 0));
    }

    [Theory]
    [InlineData(Ipv6Fixture.InterfaceIp)]     // the interface's own address: the kernel answers
    [InlineData("2001:db8::250")]             // nobody we know
    [InlineData(Ipv6Fixture.DarkBackendIp)]   // a backend
    public void Handle_SolicitationForNonVip_IsNotAnswered(string target)
    {
        var engine = Engine();

        Assert.Null(engine.HandleNd(ClientSolicitation(target)));
        Assert.Equal(0, engine.Nd.AdvertisementsSent);
    }

    [Fact]
    public void Handle_DuplicateAddressDetectionOrSolicitationFromTheVip_IsNotAnswered()
    {
        var engine = Engine();
        var dad = new byte[EthernetFrame.HeaderLength + NeighborDiscoveryPacket.PacketLength];
        var n = NeighborDiscoveryPacket.WriteSolicitationFrame(dad, Fixtures.ClientMac, 0, Ipv6.Parse(Ipv6Fixture.WebVip));

        Assert.Null(engine.HandleNd(dad[..n]));
        Assert.Null(engine.HandleNd(Ipv6Fixture.Solicitation(Fixtures.ClientMac, Ipv6Fixture.WebVip, Ipv6Fixture.WebVip)));
        Assert.Equal(0, engine.Nd.AdvertisementsSent);
        Assert.Equal(0, engine.Nd.Malformed);
    }

    [Fact]
    public void Handle_NotClaimingVips_AnswersNothingAndCountsIt_ButStillLearns()
    {
        var engine = Engine();
        var dark = engine.Service("dark6").Backends[0];

        Assert.Null(engine.HandleNd(ClientSolicitation(Ipv6Fixture.WebVip), claimsVips: false));
        engine.Neighbors.Asked(dark.NeighborIndex, engine.Clock.NowMs);
        engine.HandleNd(Ipv6Fixture.AnswerToUs(Ipv6Fixture.DarkBackendIp, DarkMac), claimsVips: false);

        Assert.Equal(1, engine.Nd.SolicitationsNotClaimed);
        Assert.Equal(0, engine.Nd.AdvertisementsSent);
        Assert.Equal(DarkMac, engine.Neighbors.Mac(dark.NeighborIndex));
    }

    [Fact]
    public void Handle_AdvertisementForVip_IsNotAnsweredAgain()
    {
        var engine = Engine();
        var advertisement = Ipv6Fixture.Advertisement(Ipv6.AllNodesMac, Fixtures.ClientMac, Ipv6Fixture.ClientIp, "ff02::1", Ipv6Fixture.WebVip,
            NeighborDiscoveryPacket.FlagOverride, Fixtures.ClientMac);

        Assert.Null(engine.HandleNd(advertisement));
    }

    [Fact]
    public void Handle_FromOurOwnMac_IsIgnored()
    {
        var engine = Engine();

        Assert.Null(engine.HandleNd(Ipv6Fixture.Solicitation(Fixtures.InterfaceMac, Ipv6Fixture.InterfaceIp, Ipv6Fixture.WebVip)));
    }

    [Fact]
    public void Handle_RoutedSolicitation_IsMalformedAndNotAnswered()
    {
        var engine = Engine();
        var frame = ClientSolicitation(Ipv6Fixture.WebVip);
        frame[14 + 7] = 64;

        Assert.Null(engine.HandleNd(frame));
        Assert.Equal(1, engine.Nd.Malformed);
    }

    [Fact]
    public void Handle_NotNeighborDiscoveryOrTruncated_IsIgnoredUncounted()
    {
        var engine = Engine();

        Assert.Null(engine.HandleNd(Fixtures.WebTcp().Build()));
        Assert.Null(engine.HandleNd(FrameBuilder.Ipv6(8, IpProtocols.Udp)));
        Assert.Null(engine.HandleNd(ClientSolicitation(Ipv6Fixture.WebVip)[..60]));
        Assert.Null(engine.HandleNd(new byte[5]));
        Assert.Equal(0, engine.Nd.Malformed);
    }

    [Fact]
    public void Handle_AnswerToOurSolicitation_TeachesNeighborTable()
    {
        var engine = Engine();
        var dark = engine.Service("dark6").Backends[0];
        engine.Clock.NowMs = 5_000_000;

        engine.AnswerNd(Ipv6Fixture.DarkBackendIp, DarkMac);

        Assert.Equal(DarkMac, engine.Neighbors.Mac(dark.NeighborIndex));
        Assert.Equal(5_000_000, engine.Neighbors.UpdatedAtMs(dark.NeighborIndex));
        Assert.Equal(1, engine.Nd.Learned);
        Assert.Equal(NeighborUpdate.Changed, engine.Nd.LastUpdate);
        Assert.Equal(Ipv6.Parse(Ipv6Fixture.DarkBackendIp), engine.Nd.LastAddress);
        Assert.Equal(DarkMac, engine.Nd.LastMac);
        Assert.Equal(0, engine.Nd.Refused);
        // And the IPv4 side learned nothing from it.
        Assert.Equal(0, engine.Arp.Learned);
    }

    [Fact]
    public void Handle_BackendsOwnSolicitation_TeachesNothingAndIsNoRefusal()
    {
        var engine = Engine();
        var dark = engine.Service("dark6").Backends[0];

        engine.HandleNd(Ipv6Fixture.Solicitation(DarkMac, Ipv6Fixture.DarkBackendIp, Ipv6Fixture.InterfaceIp));

        Assert.True(engine.Neighbors.Mac(dark.NeighborIndex).IsZero);
        Assert.Equal(0, engine.Nd.Learned);
        Assert.Equal(0, engine.Nd.Refused);
    }

    /// <summary>Neighbour discovery spoofing: whoever claims a known backend's address, unasked or not as a whole answer
    /// to us, with another MAC is refused and counted.</summary>
    [Theory]
    [InlineData("02:66:66:66:66:66")]
    [InlineData("00:00:00:00:00:00")]
    [InlineData("33:33:00:00:00:01")]
    public void Handle_UnsolicitedClaimOnKnownBackend_RefusedAndCounted(string claimed)
    {
        var engine = Engine();
        var dark = engine.Service("dark6").Backends[0];
        engine.AnswerNd(Ipv6Fixture.DarkBackendIp, DarkMac);
        var forged = MacAddress.Parse(claimed);
        var attacker = MacAddress.Parse("02:66:66:66:66:66");

        engine.Clock.NowMs += 100;
        // Unsolicited, to all nodes.
        engine.HandleNd(Ipv6Fixture.Advertisement(Ipv6.AllNodesMac, attacker, Ipv6Fixture.DarkBackendIp, "ff02::1", Ipv6Fixture.DarkBackendIp,
            NeighborDiscoveryPacket.FlagOverride, forged));
        // Solicited-looking, to us, while a solicitation is open, but from another Ethernet source than the MAC it names.
        engine.Neighbors.Asked(dark.NeighborIndex, engine.Clock.NowMs);
        engine.HandleNd(Ipv6Fixture.Advertisement(Fixtures.InterfaceMac, MacAddress.Parse("02:77:77:77:77:77"), Ipv6Fixture.DarkBackendIp,
            Ipv6Fixture.InterfaceIp, Ipv6Fixture.DarkBackendIp, SolicitedOverride, forged));
        // A solicitation from the backend's address naming the forged MAC.
        engine.HandleNd(Ipv6Fixture.Solicitation(forged, Ipv6Fixture.DarkBackendIp, Ipv6Fixture.InterfaceIp));

        Assert.Equal(DarkMac, engine.Neighbors.Mac(dark.NeighborIndex));
        Assert.Equal(3, engine.Nd.Refused);
        Assert.Equal(1, engine.Nd.Learned);
    }

    [Fact]
    public void Handle_SolicitedAdvertisementNotToOurAddress_NotTaken()
    {
        var engine = Engine();
        var dark = engine.Service("dark6").Backends[0];
        engine.Neighbors.Asked(dark.NeighborIndex, engine.Clock.NowMs);

        engine.HandleNd(Ipv6Fixture.Advertisement(Fixtures.InterfaceMac, DarkMac, Ipv6Fixture.DarkBackendIp, "2001:db8::99", Ipv6Fixture.DarkBackendIp,
            SolicitedOverride, DarkMac));
        engine.HandleNd(Ipv6Fixture.Advertisement(MacAddress.Parse("02:00:00:00:99:99"), DarkMac, Ipv6Fixture.DarkBackendIp, Ipv6Fixture.InterfaceIp,
            Ipv6Fixture.DarkBackendIp, SolicitedOverride, DarkMac));

        Assert.True(engine.Neighbors.Mac(dark.NeighborIndex).IsZero);
        Assert.Equal(0, engine.Nd.Learned);
    }

    [Theory]
    [InlineData("00:00:00:00:00:00")]
    [InlineData("ff:ff:ff:ff:ff:ff")]
    [InlineData("33:33:00:00:00:01")]
    public void Handle_AnswerToOurSolicitationWithUnusableMac_Refused(string claimed)
    {
        var engine = Engine();
        var dark = engine.Service("dark6").Backends[0];

        engine.AnswerNd(Ipv6Fixture.DarkBackendIp, MacAddress.Parse(claimed));

        Assert.True(engine.Neighbors.Mac(dark.NeighborIndex).IsZero);
        Assert.Equal(1, engine.Nd.Refused);
    }

    [Fact]
    public void Handle_AnswerAfterTheWindowOrSecondAnswer_NotTaken()
    {
        var engine = Engine();
        var dark = engine.Service("dark6").Backends[0];
        engine.AnswerNd(Ipv6Fixture.DarkBackendIp, DarkMac);
        var second = Ipv6Fixture.AnswerToUs(Ipv6Fixture.DarkBackendIp, MacAddress.Parse("02:00:00:00:03:02"));

        // One solicitation, one answer: a second answer to it is someone else's.
        engine.HandleNd(second);
        Assert.Equal(DarkMac, engine.Neighbors.Mac(dark.NeighborIndex));

        engine.Neighbors.Asked(dark.NeighborIndex, engine.Clock.NowMs);
        engine.Clock.NowMs += NeighborTable.AnswerWindowMs + 1;
        engine.HandleNd(second);
        Assert.Equal(DarkMac, engine.Neighbors.Mac(dark.NeighborIndex));
        Assert.Equal(2, engine.Nd.Refused);
    }

    [Fact]
    public void Handle_ReplacedServerAnswersOurSolicitation_MacChanges()
    {
        var engine = Engine();
        var dark = engine.Service("dark6").Backends[0];
        engine.AnswerNd(Ipv6Fixture.DarkBackendIp, DarkMac);
        var replaced = MacAddress.Parse("02:00:00:00:03:09");

        engine.Clock.NowMs += 30_000;
        engine.AnswerNd(Ipv6Fixture.DarkBackendIp, replaced);

        Assert.Equal(replaced, engine.Neighbors.Mac(dark.NeighborIndex));
        Assert.Equal(NeighborUpdate.Changed, engine.Nd.LastUpdate);
        Assert.Equal(DarkMac, engine.Nd.LastPrevious);
    }

    [Fact]
    public void Handle_AdvertisementForBackendWithStaticMac_NeverOverwritesIt()
    {
        var engine = Engine();
        var web = engine.Service("web6").Backends[0];

        engine.AnswerNd(Ipv6Fixture.WebBackendIp, MacAddress.Parse("02:66:66:66:66:66"));

        Assert.Equal(Ipv6Fixture.WebBackendMac, engine.Neighbors.Mac(web.NeighborIndex));
        Assert.Equal(0, engine.Nd.Learned);
    }

    [Fact]
    public void Handle_RoutedVip_ArpFalse_NotAnsweredNorAdvertised()
    {
        var config = Ipv6Fixture.Config();
        config = config with { Services = [.. config.Services.Select(s => s.Name == "dark6" ? s with { Arp = false } : s)] };
        var engine = Engine(config);

        Assert.Null(engine.HandleNd(ClientSolicitation(Ipv6Fixture.DarkVip)));
        Assert.NotNull(engine.HandleNd(ClientSolicitation(Ipv6Fixture.WebVip)));
        Assert.DoesNotContain(Ipv6.Parse(Ipv6Fixture.DarkVip), engine.Nd.VipsOn(0));
        Assert.Equal(0, engine.Nd.SolicitationsNotClaimed);
    }

    [Fact]
    public void VipsOn_Port_ListsEachIpv6VipOnce()
    {
        var engine = TwoPortEngine();

        Assert.Equal(new[] { Ipv6Fixture.WebVip, Ipv6Fixture.DarkVip }.Select(Ipv6.Parse), engine.Nd.VipsOn(0));
        Assert.Empty(engine.Nd.VipsOn(1));
    }

    [Fact]
    public void Handle_ClusterIpVip_AdvertisesTheClusterMacFromOurUnicastMac()
    {
        var cluster = ClusterFixture.Config(1).Services[0] with { Vip = System.Net.IPAddress.Parse(Ipv6Fixture.WebVip), Interface = Fixtures.InterfaceName };
        var engine = new TestEngine(new BalancerConfig { Services = [cluster] }, Ipv6Fixture.Interfaces, tapMac: ClusterFixture.TapMac);

        var reply = engine.HandleNd(ClientSolicitation(Ipv6Fixture.WebVip));

        Assert.Equal(FrameBuilder.Hex(ExpectedReply(Ipv6Fixture.WebVip, Fixtures.ClientMac, ClusterFixture.ClusterMac)), FrameBuilder.Hex(reply));
        Assert.Equal(ClusterFixture.ClusterMac, engine.Nd.AnswerMac(Ipv6.Parse(Ipv6Fixture.WebVip), 0));
    }

    [Fact]
    public void ArpResponder_Ipv6Services_AreNoIpv4Vips()
    {
        var engine = Engine(Ipv6Fixture.OnlyIpv6() with { Services = [.. Ipv6Fixture.OnlyIpv6().Services, Fixtures.Config().Services[0]] });

        // An IPv6 service's IPv4 VIP field is 0: a probe for 0.0.0.0 must not find it.
        Assert.Equal(ArpAction.None, engine.HandleArp(FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, "0.0.0.0")));
        Assert.Equal([Ipv4.Parse(Fixtures.WebVip)], engine.Arp.VipsOn(0));
    }

    [Fact]
    public void Handle_SolicitationsAndAdvertisements_AllocateNothing()
    {
        var engine = Engine();
        var solicitation = ClientSolicitation(Ipv6Fixture.WebVip);
        var answer = Ipv6Fixture.AnswerToUs(Ipv6Fixture.DarkBackendIp, DarkMac);
        var reply = new byte[256];
        var dark = engine.Service("dark6").Backends[0].NeighborIndex;
        engine.Nd.Handle(solicitation, reply, out _, 0, 0);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            engine.Nd.Handle(solicitation, reply, out _, 0, i);
            engine.Neighbors.Asked(dark, i);
            engine.Nd.Handle(answer, reply, out _, 0, i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1001, engine.Nd.AdvertisementsSent);
    }

    private static byte[] Tagged(byte[] frame, int vlan)
    {
        var tagged = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(tagged);
        tagged[12] = 0x81;
        tagged[13] = 0x00;
        tagged[14] = (byte)(vlan >> 8);
        tagged[15] = (byte)vlan;
        frame.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }
}
