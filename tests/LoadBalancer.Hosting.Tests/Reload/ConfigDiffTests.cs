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
