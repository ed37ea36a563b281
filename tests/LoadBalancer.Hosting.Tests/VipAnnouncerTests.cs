using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Health;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests;

/// <summary>A VIP is in the announce table exactly while an announced service on it can take a new flow, and only
/// once every backend's health is decided.</summary>
public class VipAnnouncerTests
{
    private static BalancerConfig Config(bool announce = true) => Fixtures.Config() with
    {
        Announce = new AnnounceConfig { Table = 100 },
        Services =
        [
            Fixtures.Service("web", Fixtures.WebVip, Fixtures.WebPort, TransportProtocol.Tcp,
                Fixtures.Backend("web-1", "10.0.1.1", Fixtures.WebBackendMac), Fixtures.Backend("web-2", "10.0.1.2", Fixtures.DnsBackendMac)) with
            {
                Announce = announce, Arp = false,
                Health = new HealthCheckConfig { Type = HealthCheckType.Tcp, Initial = BackendHealth.Unknown },
            },
        ],
    };

    private static HealthReport Report(string backend, BackendHealth health) =>
        new("web", backend, health, health == BackendHealth.Healthy, "test", DateTimeOffset.UtcNow, 1, 1, true, null);

    [Fact]
    public void Vip_AnnouncedOnceEveryBackendIsDecided_WithdrawnWhenNoneIsUsable_GoneWithTheEngine()
    {
        var engine = new TestEngine(Config());
        var announcer = engine.Engine.Announcer!;
        var routes = Assert.Single(engine.Platform.RouteTables);
        var vip = Ipv4.Parse(Fixtures.WebVip);
        Assert.Equal(100, routes.Table);

        announcer.Apply();
        Assert.Empty(routes.Vips);                                                   // both unknown

        engine.Engine.Control.ApplyHealth(Report("web-1", BackendHealth.Healthy));
        announcer.Apply();
        Assert.Empty(routes.Vips);                                                   // web-2 still unknown

        engine.Engine.Control.ApplyHealth(Report("web-2", BackendHealth.Unhealthy));
        announcer.Apply();
        Assert.Equal([vip], routes.Vips);
        Assert.True(announcer.IsAnnounced(engine.Service("web")));

        engine.Engine.Control.ApplyHealth(Report("web-1", BackendHealth.Unhealthy));
        announcer.Apply();
        Assert.Empty(routes.Vips);
        Assert.False(announcer.IsAnnounced(engine.Service("web")));

        engine.Engine.Control.ApplyHealth(Report("web-2", BackendHealth.Healthy));
        announcer.Apply();
        Assert.Equal([vip], routes.Vips);

        engine.Engine.Dispose();
        Assert.True(routes.Disposed);
    }

    [Fact]
    public void ServiceNotAnnounced_NeverInTheTable()
    {
        var engine = new TestEngine(Config(announce: false));
        engine.Engine.Control.ApplyHealth(Report("web-1", BackendHealth.Healthy));
        engine.Engine.Control.ApplyHealth(Report("web-2", BackendHealth.Healthy));
        engine.Engine.Announcer!.Apply();
        Assert.Empty(Assert.Single(engine.Platform.RouteTables).Vips);
    }

    [Fact]
    public void NoAnnounceSection_NoTableOpened()
    {
        var engine = new TestEngine(Fixtures.Config());
        Assert.Null(engine.Engine.Announcer);
        Assert.Empty(engine.Platform.RouteTables);
    }
}
