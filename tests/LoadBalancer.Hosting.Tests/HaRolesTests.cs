using System.Buffers.Binary;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests;

/// <summary>The engine's role in an HA pair: only a master answers ARP for the VIPs and announces them when it
/// takes over; a backup (or fault) stays silent for them but keeps learning backends and forwarding frames.</summary>
public class HaRolesTests
{
    private static readonly string[] Vips = [Fixtures.WebVip, Fixtures.PoolVip, Fixtures.DarkVip, Fixtures.DrainedVip];

    private static BalancerConfig Config(HaRole initial = HaRole.Backup) =>
        Fixtures.Config() with { Ha = new HaConfig { InitialRole = initial, GarpCount = 3, GarpInterval = TimeSpan.FromMilliseconds(50) } };

    private static byte[] RequestFor(string vip) => FrameBuilder.ArpRequest(MacAddress.Parse("02:00:00:00:99:01"), "10.99.0.1", vip);

    private static string SenderIp(byte[] frame) => Ipv4.Format(BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(14 + 14)));
    private static string TargetIp(byte[] frame) => Ipv4.Format(BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(14 + 24)));
    private static bool IsAnnouncement(byte[] frame) => SenderIp(frame) == TargetIp(frame) && Vips.Contains(SenderIp(frame));

    [Fact]
    public void Backup_AnswersNoArpForItsVips_CountsThem_AndMasterDoes()
    {
        using var engine = EngineBuilder.Build(Config(), new FakePlatform(Fixtures.Interfaces).Platform);
        var responder = Assert.Single(engine.Responders);

        Assert.Equal(HaRole.Backup, engine.Roles.Role);
        Assert.Equal(ArpAction.None, responder.Handle(RequestFor(Fixtures.PoolVip), 0, 0, engine.Roles.ClaimsVips));
        Assert.Equal(1, responder.RequestsNotClaimed);

        Assert.True(engine.Roles.Set(HaRole.Master, "keepalived (pid 7)").Changed);
        Assert.Equal(ArpAction.Reply, responder.Handle(RequestFor(Fixtures.PoolVip), 0, 0, engine.Roles.ClaimsVips));
        Assert.Equal("keepalived (pid 7)", engine.Roles.ChangedBy);

        Assert.True(engine.Roles.Set(HaRole.Fault, "keepalived (pid 7)").Changed);
        Assert.Equal(ArpAction.None, responder.Handle(RequestFor(Fixtures.PoolVip), 0, 0, engine.Roles.ClaimsVips));
        Assert.Equal(2, responder.RequestsNotClaimed);
    }

    [Fact]
    public void Backup_StillLearnsBackendMacs()
    {
        using var engine = EngineBuilder.Build(Config(), new FakePlatform(Fixtures.Interfaces).Platform);
        var darkMac = MacAddress.Parse("02:00:00:00:03:01");
        var reply = FrameBuilder.Arp(ArpPacket.OperationReply, Fixtures.InterfaceMac, darkMac, Fixtures.DarkBackendIp, Fixtures.InterfaceMac, Fixtures.InterfaceIp);

        for (var i = 0; i < engine.Neighbors.Count; i++) engine.Neighbors.Asked(i, 0);
        engine.Responders[0].Handle(reply, 0, 0);

        Assert.Equal(1, engine.Responders[0].Learned);
        Assert.Equal(darkMac, engine.Neighbors.Mac(engine.State.Current.Services.Single(x => x.Name == "dark").Backends[0].NeighborIndex));
    }

    [Fact]
    public void Set_SameRoleOrLoneBalancer_ChangesNothing()
    {
        using var pair = EngineBuilder.Build(Config(HaRole.Master), new FakePlatform(Fixtures.Interfaces).Platform);
        var again = pair.Roles.Set(HaRole.Master, "test");
        Assert.False(again.Changed);
        Assert.Null(again.Error);
        Assert.Equal("initial_role", pair.Roles.ChangedBy);

        using var lone = EngineBuilder.Build(Fixtures.Config(), new FakePlatform(Fixtures.Interfaces).Platform);
        Assert.False(lone.Roles.Enabled);
        Assert.True(lone.Roles.ClaimsVips);
        Assert.Equal("this engine has no ha: section; it always claims its VIPs", lone.Roles.Set(HaRole.Backup, "test").Error);
        Assert.True(lone.Roles.ClaimsVips);
    }

    [Fact]
    public async Task Backup_AnnouncesNothing_UntilTakeover_ThenGarpCountRoundsForEveryVip()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        using var engine = EngineBuilder.Build(Config(), platform.Platform);
        engine.Start();
        var arp = platform.ArpSockets[0];

        // The ARP thread's first pass resolves the backends; by then a lone balancer would have announced.
        await Eventually.TrueAsync(() => arp.Sent.Any(f => TargetIp(f) == Fixtures.DarkBackendIp), "the backend resolution requests");
        Assert.DoesNotContain(arp.Sent, IsAnnouncement);

        engine.Roles.Set(HaRole.Master, "test");

        await Eventually.TrueAsync(() => arp.Sent.Count(IsAnnouncement) >= 3 * Vips.Length, "three rounds of gratuitous ARP");
        var rounds = arp.Sent.Where(IsAnnouncement).Take(3 * Vips.Length).Select(SenderIp).ToArray();
        Assert.Equal([.. Vips, .. Vips, .. Vips], rounds);
    }

    [Fact]
    public async Task Backup_ForwardsWhatReachesIt()
    {
        var platform = new FakePlatform(Fixtures.Interfaces);
        using var engine = EngineBuilder.Build(Config(), platform.Platform);

        engine.Start();
        platform.Receivers[0].Arrive(Fixtures.WebTcp().Build());

        var transmitter = platform.Transmitters[0].Transmitter;
        await Eventually.TrueAsync(() => transmitter.SentSnapshot().Count == 1, "the backup's worker to forward the frame");
        Assert.Equal(Fixtures.WebBackendMac, MacAddress.Read(transmitter.SentSnapshot()[0].Frame));
    }
}
