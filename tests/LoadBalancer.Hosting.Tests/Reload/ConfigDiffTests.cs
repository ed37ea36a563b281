using LoadBalancer.Core.Model;
using LoadBalancer.Hosting.Reload;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests.Reload;

/// <summary>The control socket's groups are restart-only, like the socket itself: a reload that changes them is
/// refused at the key's line and changes nothing.</summary>
public sealed class ConfigDiffTests
{
    private static readonly UnixGroup Monitors = new("lbmon", 2000), Admins = new("lbadmin", 2001);

    private static BalancerConfig With(UnixGroup? control, UnixGroup? admin) =>
        Fixtures.Config() with
        {
            ControlGroup = control,
            ControlAdminGroup = admin,
            KeyLines = new Dictionary<string, int> { ["control_group"] = 3, ["control_admin_group"] = 4 },
        };

    [Fact]
    public void Compare_SameGroups_NoRefusal()
    {
        Assert.True(ConfigDiff.Compare(With(Monitors, Admins), With(Monitors, Admins)).IsEmpty);
    }

    [Fact]
    public void Compare_ControlGroupChanged_RefusedAtItsLine()
    {
        var diff = ConfigDiff.Compare(With(Monitors, Admins), With(Admins, Admins));

        Assert.Equal([new ReloadRefusal(3, "control_group (lbmon now, lbadmin in the file) cannot change while the engine runs: a restart is needed (lb reload changed nothing)")],
            diff.Refusals);
    }

    [Fact]
    public void Compare_AdminGroupAddedOrRemoved_Refused()
    {
        Assert.Equal([new ReloadRefusal(4, "control_admin_group (none now, lbadmin in the file) cannot change while the engine runs: a restart is needed (lb reload changed nothing)")],
            ConfigDiff.Compare(With(Monitors, null), With(Monitors, Admins)).Refusals);
        Assert.Equal([new ReloadRefusal(4, "control_admin_group (lbadmin now, none in the file) cannot change while the engine runs: a restart is needed (lb reload changed nothing)")],
            ConfigDiff.Compare(With(Monitors, Admins), With(Monitors, null)).Refusals);
    }
}

/// <summary>How a reload's lines name IPv6 endpoints: in brackets, as [VIP]:port.</summary>
public sealed class ConfigDiffIpv6Tests
{
    private static BalancerConfig WithService(ServiceConfig service) => Fixtures.Config() with { Services = [.. Fixtures.Config().Services, service] };

    private static ServiceConfig Web6(string backend) =>
        Fixtures.Service("web6", "2001:db8::100", 80, TransportProtocol.Tcp, Fixtures.Backend("web6-1", backend, null));

    [Fact]
    public void Compare_Ipv6ServiceAdded_NamesItsEndpointInBrackets()
    {
        var diff = ConfigDiff.Compare(Fixtures.Config(), WithService(Web6("2001:db8:1::11")));

        Assert.Equal(["service web6 added ([2001:db8::100]:80/tcp, dr, 1 backends)"], diff.Changes);
    }

    [Fact]
    public void Compare_Ipv6BackendReplaced_NamesBothAddresses()
    {
        var diff = ConfigDiff.Compare(WithService(Web6("2001:db8:1::11")), WithService(Web6("2001:db8:1::12")));

        Assert.Equal(["backend web6/web6-1 replaced: 2001:db8:1::11 -> 2001:db8:1::12 (another server: its health starts over)"], diff.Changes);
    }
}

/// <summary><c>scheduler</c> and a backend's <c>max_connections</c>/<c>min_connections</c> change live: a reload that
/// changes them is a change line, never a refusal.</summary>
public sealed class ConfigDiffSchedulerTests
{
    private static BalancerConfig Web(SchedulerKind scheduler = SchedulerKind.Maglev, int max = 0, int? min = null)
    {
        var web = Fixtures.Config().Services[0];
        return Fixtures.Config() with
        {
            Services =
            [
                web with
                {
                    Scheduler = scheduler,
                    Backends = [web.Backends[0] with { MaxConnections = max, MinConnections = min }],
                    KeyLines = new Dictionary<string, int> { ["scheduler"] = 7 },
                },
                .. Fixtures.Config().Services.Skip(1),
            ],
        };
    }

    [Theory]
    [InlineData(SchedulerKind.Maglev, SchedulerKind.Wlc, "service web changed: scheduler maglev -> wlc (for new flows)")]
    [InlineData(SchedulerKind.Wlc, SchedulerKind.Wrr, "service web changed: scheduler wlc -> wrr (for new flows)")]
    [InlineData(SchedulerKind.Wrr, SchedulerKind.Maglev, "service web changed: scheduler wrr -> maglev (for new flows)")]
    public void Compare_SchedulerChanged_IsALiveChange(SchedulerKind from, SchedulerKind to, string expected)
    {
        var diff = ConfigDiff.Compare(Web(from), Web(to));

        Assert.Empty(diff.Refusals);
        Assert.Equal([expected], diff.Changes);
    }

    [Theory]
    [InlineData(0, null, 5, null, "backend web/web-1 changed: max_connections none -> 5")]
    [InlineData(200, 150, 0, null, "backend web/web-1 changed: max_connections 200 -> none, min_connections 150 -> default")]
    [InlineData(200, null, 200, 100, "backend web/web-1 changed: min_connections default -> 100")]
    [InlineData(200, 100, 400, 100, "backend web/web-1 changed: max_connections 200 -> 400")]
    public void Compare_LimitChanged_IsALiveChange(int oldMax, int? oldMin, int newMax, int? newMin, string expected)
    {
        var diff = ConfigDiff.Compare(Web(max: oldMax, min: oldMin), Web(max: newMax, min: newMin));

        Assert.Empty(diff.Refusals);
        Assert.Equal([expected], diff.Changes);
        Assert.Empty(diff.Removed);
    }

    [Fact]
    public void Compare_SameSchedulerAndLimits_IsEmpty()
    {
        Assert.True(ConfigDiff.Compare(Web(SchedulerKind.Wlc, 200, 150), Web(SchedulerKind.Wlc, 200, 150)).IsEmpty);
    }

    [Fact]
    public void Compare_LimitedBackendAdded_NamesItsLimit()
    {
        var current = Web();
        var web = current.Services[0];
        var next = current with
        {
            Services = [web with { Backends = [.. web.Backends, Fixtures.Backend("web-2", "10.0.1.3", null) with { MaxConnections = 50 }] }, .. current.Services.Skip(1)],
        };

        Assert.Equal(["backend web/web-2 added (10.0.1.3, weight 100, max_connections 50)"], ConfigDiff.Compare(current, next).Changes);
    }

    [Fact]
    public void Compare_IoOrXdpChanged_RefusedAtTheKeysLine_SameXdpOnAnotherLine_IsEmpty()
    {
        var lines = new Dictionary<string, int> { ["io"] = 1, ["xdp"] = 2 };
        var current = Fixtures.Config() with { KeyLines = lines };

        Assert.Equal([new ReloadRefusal(1, "io (af_packet now, af_xdp in the file) cannot change while the engine runs: a restart is needed (lb reload changed nothing)")],
            ConfigDiff.Compare(current, current with { Io = FrameIo.AfXdp }).Refusals);
        Assert.Equal([new ReloadRefusal(2, "xdp (the sockets and the program are set up at start) cannot change while the engine runs: a restart is needed (lb reload changed nothing)")],
            ConfigDiff.Compare(current, current with { Xdp = new XdpConfig { Frames = 8192, Line = 2 } }).Refusals);
        Assert.True(ConfigDiff.Compare(current, current with { Xdp = new XdpConfig { Line = 7 } }).IsEmpty);
    }
}
