using LoadBalancer.Core.IO;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding;

public class ArpResponderTests
{
    /// <summary>The fixtures' engine with a second interface, eth1, where one more service (on a VIP eth0 already
    /// serves) reaches its backend: eth1 serves no VIP.</summary>
    private static TestEngine TwoPortEngine()
    {
        var config = Fixtures.Config();
        var far = Fixtures.Service("far", Fixtures.WebVip, 81, TransportProtocol.Tcp, Fixtures.Backend("far-1", "10.1.0.1", null)) with { BackendInterface = "eth1" };
        return new(config with { Services = [.. config.Services, far] }, [.. Fixtures.Interfaces, Fixtures.Eth1]);
    }

    [Fact]
    public void Handle_RequestForVipOnIngressInterface_RepliesInPlaceWithOurMac()
    {
        var engine = new TestEngine(Fixtures.Config());
        var frame = FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, Fixtures.WebVip);

        var action = engine.HandleArp(frame);

        Assert.Equal(ArpAction.Reply, action);
        var expected = FrameBuilder.Arp(ArpPacket.OperationReply, Fixtures.ClientMac, Fixtures.InterfaceMac, Fixtures.WebVip,
            Fixtures.ClientMac, Fixtures.ClientIp);
        Assert.Equal(FrameBuilder.Hex(expected), FrameBuilder.Hex(frame));
        Assert.Equal(1, engine.Arp.RepliesSent);
    }

    [Fact]
    public void Handle_RequestForEveryVip_IsAnswered()
    {
        var engine = new TestEngine(Fixtures.Config());

        foreach (var vip in new[] { Fixtures.WebVip, Fixtures.PoolVip, Fixtures.DarkVip, Fixtures.DrainedVip })
            Assert.Equal(ArpAction.Reply, engine.HandleArp(FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, vip)));
    }

    [Fact]
    public void Handle_VlanTaggedPaddedRequest_ReplyKeepsTagAndPadding()
    {
        var engine = new TestEngine(Fixtures.Config());
        var frame = FrameBuilder.Arp(ArpPacket.OperationRequest, MacAddress.Broadcast, Fixtures.ClientMac, Fixtures.ClientIp,
            MacAddress.Zero, Fixtures.WebVip, vlanId: 55, padTo: 64);
        frame.AsSpan(46).Fill(0x5A);

        Assert.Equal(ArpAction.Reply, engine.HandleArp(frame));

        var expected = FrameBuilder.Arp(ArpPacket.OperationReply, Fixtures.ClientMac, Fixtures.InterfaceMac, Fixtures.WebVip,
            Fixtures.ClientMac, Fixtures.ClientIp, vlanId: 55, padTo: 64);
        expected.AsSpan(46).Fill(0x5A);
        Assert.Equal(FrameBuilder.Hex(expected), FrameBuilder.Hex(frame));
    }

    [Fact]
    public void Handle_RequestForVipOnOtherPort_IsNotAnswered()
    {
        var engine = TwoPortEngine();
        var frame = FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, Fixtures.WebVip);
        var before = (byte[])frame.Clone();

        Assert.Equal(ArpAction.None, engine.HandleArp(frame, interfaceIndex: 1));

        Assert.Equal(before, frame);
        Assert.Equal(ArpAction.Reply, engine.HandleArp(frame, interfaceIndex: 0));
    }

    [Theory]
    [InlineData("10.0.0.2")]   // the interface's own address: the kernel answers
    [InlineData("10.0.0.250")] // nobody we know
    [InlineData("10.0.1.1")]   // a backend
    public void Handle_RequestForNonVip_IsNotAnswered(string target)
    {
        var engine = new TestEngine(Fixtures.Config());
        var frame = FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, target);
        var before = (byte[])frame.Clone();

        Assert.Equal(ArpAction.None, engine.HandleArp(frame));
        Assert.Equal(before, frame);
    }

    [Fact]
    public void Handle_GratuitousArpForVip_IsNotAnswered()
    {
        var engine = new TestEngine(Fixtures.Config());
        var frame = FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.WebVip, Fixtures.WebVip);

        Assert.Equal(ArpAction.None, engine.HandleArp(frame));
        Assert.Equal(0, engine.Arp.RepliesSent);
    }

    [Fact]
    public void Handle_ReplyForVip_IsNotAnsweredAgain()
    {
        var engine = new TestEngine(Fixtures.Config());
        var frame = FrameBuilder.Arp(ArpPacket.OperationReply, Fixtures.InterfaceMac, Fixtures.ClientMac, Fixtures.ClientIp,
            Fixtures.InterfaceMac, Fixtures.WebVip);

        Assert.Equal(ArpAction.None, engine.HandleArp(frame));
    }

    [Fact]
    public void Handle_RequestFromOurOwnMac_IsIgnored()
    {
        var engine = new TestEngine(Fixtures.Config());
        var frame = FrameBuilder.ArpRequest(Fixtures.InterfaceMac, Fixtures.InterfaceIp, Fixtures.WebVip);

        Assert.Equal(ArpAction.None, engine.HandleArp(frame));
    }

    [Fact]
    public void Handle_NotArpOrTruncated_IsIgnored()
    {
        var engine = new TestEngine(Fixtures.Config());

        Assert.Equal(ArpAction.None, engine.HandleArp(Fixtures.WebTcp().Build()));
        Assert.Equal(ArpAction.None, engine.HandleArp(FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, Fixtures.WebVip)[..41]));
        Assert.Equal(ArpAction.None, engine.HandleArp(new byte[5]));
    }

    [Fact]
    public void Handle_AnswerToOurRequest_TeachesNeighborTable()
    {
        var engine = new TestEngine(Fixtures.Config());
        var dark = engine.Service("dark").Backends[0];
        var learned = MacAddress.Parse("02:00:00:00:03:01");
        engine.Clock.NowMs = 5_000_000;

        engine.AnswerArp(Fixtures.DarkBackendIp, learned);

        Assert.Equal(learned, engine.Neighbors.Mac(dark.NeighborIndex));
        Assert.Equal(5_000_000, engine.Neighbors.UpdatedAtMs(dark.NeighborIndex));
        Assert.Equal(1, engine.Arp.Learned);
        Assert.Equal(NeighborUpdate.Changed, engine.Arp.LastUpdate);
        Assert.Equal(0, engine.Arp.Refused);
    }

    [Fact]
    public void Handle_BackendsOwnRequest_TeachesNothingAndIsNoRefusal()
    {
        var engine = new TestEngine(Fixtures.Config());
        var dark = engine.Service("dark").Backends[0];

        // A backend asking for our address says its MAC, but we did not ask: our own request's answer will.
        engine.HandleArp(FrameBuilder.ArpRequest(MacAddress.Parse("02:00:00:00:03:01"), Fixtures.DarkBackendIp, Fixtures.InterfaceIp));

        Assert.True(engine.Neighbors.Mac(dark.NeighborIndex).IsZero);
        Assert.Equal(0, engine.Arp.Learned);
        Assert.Equal(0, engine.Arp.Refused);
    }

    /// <summary>ARP poisoning: whoever claims a known backend's address, unasked, with another MAC (a zero MAC
    /// would black-hole even its established flows, a broadcast one would flood them) is refused and counted.</summary>
    [Theory]
    [InlineData("02:66:66:66:66:66")]
    [InlineData("00:00:00:00:00:00")]
    [InlineData("ff:ff:ff:ff:ff:ff")]
    [InlineData("01:00:5e:00:00:01")]
    public void Handle_UnsolicitedClaimOnKnownBackend_RefusedAndCounted(string claimed)
    {
        var engine = new TestEngine(Fixtures.Config());
        var dark = engine.Service("dark").Backends[0];
        var real = MacAddress.Parse("02:00:00:00:03:01");
        engine.AnswerArp(Fixtures.DarkBackendIp, real);
        var forged = MacAddress.Parse(claimed);

        engine.Clock.NowMs += 100;
        engine.HandleArp(FrameBuilder.Arp(ArpPacket.OperationReply, Fixtures.InterfaceMac, forged, Fixtures.DarkBackendIp,
            Fixtures.InterfaceMac, Fixtures.InterfaceIp, ethernetSource: MacAddress.Parse("02:66:66:66:66:66")));
        engine.HandleArp(FrameBuilder.Arp(ArpPacket.OperationRequest, MacAddress.Broadcast, forged, Fixtures.DarkBackendIp,
            MacAddress.Zero, Fixtures.DarkBackendIp, ethernetSource: MacAddress.Parse("02:66:66:66:66:66")));

        Assert.Equal(real, engine.Neighbors.Mac(dark.NeighborIndex));
        Assert.Equal(2, engine.Arp.Refused);
        Assert.Equal(1, engine.Arp.Learned);
    }

    [Theory]
    [InlineData("00:00:00:00:00:00")]
    [InlineData("ff:ff:ff:ff:ff:ff")]
    [InlineData("33:33:00:00:00:01")]
    public void Handle_AnswerToOurRequestWithUnusableMac_Refused(string claimed)
    {
        var engine = new TestEngine(Fixtures.Config());
        var dark = engine.Service("dark").Backends[0];

        engine.AnswerArp(Fixtures.DarkBackendIp, MacAddress.Parse(claimed));

        Assert.True(engine.Neighbors.Mac(dark.NeighborIndex).IsZero);
        Assert.Equal(1, engine.Arp.Refused);
    }

    [Fact]
    public void Handle_AnswerAfterTheWindowOrSecondAnswer_NotTaken()
    {
        var engine = new TestEngine(Fixtures.Config());
        var dark = engine.Service("dark").Backends[0];
        var first = MacAddress.Parse("02:00:00:00:03:01");
        engine.AnswerArp(Fixtures.DarkBackendIp, first);
        var reply = FrameBuilder.Arp(ArpPacket.OperationReply, Fixtures.InterfaceMac, MacAddress.Parse("02:00:00:00:03:02"),
            Fixtures.DarkBackendIp, Fixtures.InterfaceMac, Fixtures.InterfaceIp);

        // One request, one answer: a second answer to it is someone else's.
        engine.HandleArp(reply);
        Assert.Equal(first, engine.Neighbors.Mac(dark.NeighborIndex));

        engine.Neighbors.Asked(dark.NeighborIndex, engine.Clock.NowMs);
        engine.Clock.NowMs += NeighborTable.AnswerWindowMs + 1;
        engine.HandleArp(reply);
        Assert.Equal(first, engine.Neighbors.Mac(dark.NeighborIndex));
        Assert.Equal(2, engine.Arp.Refused);
    }

    [Fact]
    public void Handle_ReplacedServerAnswersOurRequest_MacChanges()
    {
        var engine = new TestEngine(Fixtures.Config());
        var dark = engine.Service("dark").Backends[0];
        engine.AnswerArp(Fixtures.DarkBackendIp, MacAddress.Parse("02:00:00:00:03:01"));
        var replaced = MacAddress.Parse("02:00:00:00:03:09");

        engine.Clock.NowMs += 30_000;
        engine.AnswerArp(Fixtures.DarkBackendIp, replaced);

        Assert.Equal(replaced, engine.Neighbors.Mac(dark.NeighborIndex));
        Assert.Equal(NeighborUpdate.Changed, engine.Arp.LastUpdate);
        Assert.Equal(MacAddress.Parse("02:00:00:00:03:01"), engine.Arp.LastPrevious);
    }

    [Fact]
    public void Handle_ArpFromBackendOnOtherPort_DoesNotTeach()
    {
        var engine = TwoPortEngine();
        var dark = engine.Service("dark").Backends[0];

        engine.HandleArp(FrameBuilder.ArpRequest(MacAddress.Parse("02:00:00:00:03:01"), Fixtures.DarkBackendIp, Fixtures.InterfaceIp), interfaceIndex: 1);

        Assert.True(engine.Neighbors.Mac(dark.NeighborIndex).IsZero);
        Assert.Equal(0, engine.Arp.Learned);
    }

    [Fact]
    public void Handle_ArpFromBackendWithStaticMac_NeverOverwritesIt()
    {
        var engine = new TestEngine(Fixtures.Config());
        var web = engine.Service("web").Backends[0];

        engine.AnswerArp("10.0.1.1", MacAddress.Parse("02:66:66:66:66:66"));

        Assert.Equal(Fixtures.WebBackendMac, engine.Neighbors.Mac(web.NeighborIndex));
        Assert.True(engine.Neighbors.IsStatic(web.NeighborIndex));
        Assert.Equal(0, engine.Arp.Learned);
        Assert.Equal(Fixtures.WebBackendMac, MacAddress.Read(engine.Send(Fixtures.WebTcp().Build()).Output!));
    }

    [Fact]
    public void Handle_ArpWithZeroSenderAddress_DoesNotTeach()
    {
        var engine = new TestEngine(Fixtures.Config());

        // An ARP probe (sender 0.0.0.0) teaches nothing.
        engine.HandleArp(FrameBuilder.ArpRequest(MacAddress.Parse("02:00:00:00:03:01"), "0.0.0.0", Fixtures.DarkBackendIp));

        Assert.Equal(0, engine.Arp.Learned);
    }

    [Fact]
    public void Handle_RoutedVip_ArpFalse_NoReplyNoAnnouncement_BackendsStillLearned()
    {
        var config = Fixtures.Config();
        config = config with { Services = [.. config.Services.Select(s => s.Name == "pool" ? s with { Arp = false } : s)] };
        var engine = new TestEngine(config);

        Assert.Equal(ArpAction.None, engine.HandleArp(FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, Fixtures.PoolVip)));
        Assert.Equal(ArpAction.Reply, engine.HandleArp(FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, Fixtures.WebVip)));
        Assert.DoesNotContain(Ipv4.Parse(Fixtures.PoolVip), engine.Arp.VipsOn(0));
        Assert.Equal(0, engine.Arp.RequestsNotClaimed);
        // Frames routed to our MAC with the VIP as destination are balanced as ever.
        Assert.Equal(Verdict.Transmit, engine.Send(Fixtures.PoolFlows(1)[0]).Verdict);
    }

    [Fact]
    public void VipsOn_Port_ListsEachVipOnce()
    {
        var engine = TwoPortEngine();

        var vips = engine.Arp.VipsOn(0);

        Assert.Equal(new[] { Fixtures.WebVip, Fixtures.PoolVip, Fixtures.DarkVip, Fixtures.DrainedVip }.Select(Ipv4.Parse), vips);
        Assert.Empty(engine.Arp.VipsOn(1));
    }
}

public class NeighborTableTests
{
    [Fact]
    public void Register_SamePortAndAddress_ReturnsSameIndex()
    {
        var table = new NeighborTable();

        var a = table.Register(0, 0x0A000001, null);
        var b = table.Register(0, 0x0A000001, null);
        var c = table.Register(1, 0x0A000001, null);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(2, table.Count);
        Assert.Equal(0x0A000001u, table.Address(c));
        Assert.Equal(1, table.Interface(c));
    }

    [Fact]
    public void Register_StaticMac_IsReadableAndStatic()
    {
        var table = new NeighborTable();
        var mac = MacAddress.Parse("02:00:00:00:00:01");

        var i = table.Register(0, 0x0A000001, mac);

        Assert.Equal(mac, table.Mac(i));
        Assert.True(table.IsStatic(i));
    }

    [Fact]
    public void Learn_DynamicEntry_UpdatesMacAndTime()
    {
        var table = new NeighborTable();
        var i = table.Register(0, 0x0A000001, null);
        var mac = MacAddress.Parse("02:00:00:00:00:02");

        table.Asked(i, 70);
        Assert.Equal(NeighborUpdate.Changed, table.Learn(0, 0x0A000001, mac, 77, answersUs: true, out var previous));

        Assert.True(previous.IsZero);
        Assert.Equal(mac, table.Mac(i));
        Assert.Equal(77, table.UpdatedAtMs(i));
        Assert.False(table.IsStatic(i));
    }

    [Fact]
    public void Learn_UnknownAddressOrStaticEntry_ReturnsFalse()
    {
        var table = new NeighborTable();
        var mac = MacAddress.Parse("02:00:00:00:00:01");
        var i = table.Register(0, 0x0A000001, mac);

        table.Asked(i, 1);
        Assert.Equal(NeighborUpdate.None, table.Learn(0, 0x0A000009, MacAddress.Parse("02:00:00:00:00:09"), 1, answersUs: true, out _));
        Assert.Equal(NeighborUpdate.None, table.Learn(0, 0x0A000001, MacAddress.Parse("02:00:00:00:00:09"), 1, answersUs: true, out _));
        Assert.Equal(mac, table.Mac(i));
    }

    [Fact]
    public void Register_StaticAfterDynamic_BecomesStatic()
    {
        var table = new NeighborTable();
        var i = table.Register(0, 0x0A000001, null);
        table.Asked(i, 1);
        table.Learn(0, 0x0A000001, MacAddress.Parse("02:00:00:00:00:02"), 1, answersUs: true, out _);
        var mac = MacAddress.Parse("02:00:00:00:00:01");

        Assert.Equal(i, table.Register(0, 0x0A000001, mac));

        Assert.Equal(mac, table.Mac(i));
        Assert.True(table.IsStatic(i));
    }

    [Fact]
    public void Register_BeyondCapacity_Throws()
    {
        var table = new NeighborTable();
        for (var i = 0; i < NeighborTable.Capacity; i++) table.Register(0, (uint)i, null);

        Assert.Throws<InvalidOperationException>(() => table.Register(0, 0xFFFF_FFFF, null));
    }
}
