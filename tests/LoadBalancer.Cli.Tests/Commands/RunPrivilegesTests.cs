using LoadBalancer.Cli.Commands;
using LoadBalancer.Cli.Tests.Configuration;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Cli.Tests.Commands;

/// <summary>What <c>lb run</c> says about the capabilities it lacks, and which exec checks an engine that is not
/// root refuses (it cannot change user).</summary>
public sealed class RunPrivilegesTests
{
    private const ulong NetAdmin = 1UL << 12, NetRaw = 1UL << 13;
    private const string Hint = " (run it as root, or give them to its user as ambient capabilities: systemd's AmbientCapabilities=, setpriv --ambient-caps)";

    [Theory]
    [InlineData(NetAdmin | NetRaw)]
    [InlineData(ulong.MaxValue)]
    [InlineData(0x1FFFFFFFFFFUL)] // root's full set on this kernel (CapEff: 000001ffffffffff)
    public void Missing_BothHeld_IsNull(ulong effective)
    {
        Assert.Null(RunPrivileges.Missing(effective));
    }

    [Fact]
    public void Missing_OnlyNetRaw_NamesNetAdminAlone()
    {
        Assert.Equal("lb run needs CAP_NET_ADMIN (for nftables and the TAP device); it has CAP_NET_RAW only" + Hint, RunPrivileges.Missing(NetRaw));
    }

    [Fact]
    public void Missing_OnlyNetAdmin_NamesNetRawAlone()
    {
        Assert.Equal("lb run needs CAP_NET_RAW (for packet sockets and ARP); it has CAP_NET_ADMIN only" + Hint, RunPrivileges.Missing(NetAdmin | (1UL << 21)));
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(~(NetAdmin | NetRaw))] // everything else, CAP_SYS_ADMIN included, does not stand in for them
    public void Missing_Neither_NamesBoth(ulong effective)
    {
        Assert.Equal("lb run needs CAP_NET_RAW (for packet sockets and ARP) and CAP_NET_ADMIN (for nftables and the TAP device); it has neither" + Hint,
            RunPrivileges.Missing(effective));
    }

    private static BalancerConfig WithExecUser(ExecUser? user)
    {
        var config = ConfigParsing.Load(ConfigParsing.Minimal());
        var health = new HealthCheckConfig { Type = HealthCheckType.Exec, Command = "true", User = user, UserLine = 12 };
        return config with { Services = [config.Services[0] with { Health = health }] };
    }

    [Fact]
    public void UnreachableUsers_RootEngine_MayRunAnyUser()
    {
        Assert.Empty(RunPrivileges.UnreachableUsers(WithExecUser(new ExecUser("nobody", 65534, 65534, "/")), "lb.yaml", euid: 0, "root"));
    }

    [Fact]
    public void UnreachableUsers_NonRootEngine_OwnUserOrNoneIsFine()
    {
        Assert.Empty(RunPrivileges.UnreachableUsers(WithExecUser(new ExecUser("lb", 999, 999, "/")), "lb.yaml", euid: 999, "lb"));
        Assert.Empty(RunPrivileges.UnreachableUsers(WithExecUser(null), "lb.yaml", euid: 999, "lb"));
    }

    [Fact]
    public void UnreachableUsers_NonRootEngine_AnotherUserIsRefusedAtItsLine()
    {
        var errors = RunPrivileges.UnreachableUsers(WithExecUser(new ExecUser("nobody", 65534, 65534, "/")), "lb.yaml", euid: 999, "lb");

        Assert.Equal(["lb.yaml:12: service web: health user 'nobody' (uid 65534) cannot be used: the engine runs as lb (uid 999), not root, " +
                      "and cannot change user; remove user: (the check then runs as lb) or run the engine as root"],
            errors.Select(e => e.ToString()));
    }

    [Fact]
    public void TunAccess_ClusterIpServiceAndTunNotOpenable_SaysWhatTheUserLacks()
    {
        var config = ConfigParsing.Load(ConfigParsing.Minimal());
        var cluster = config with { Services = [config.Services[0] with { Mode = ForwardingMode.ClusterIp }] };

        Assert.Equal("lb run needs read and write access to /dev/net/tun for the CLUSTERIP TAP device (open(/dev/net/tun): Permission denied (errno 13)); " +
                     "udev makes it mode 0666, as Debian ships it: without udev, chmod 0666 /dev/net/tun, or give it to a group of the engine's user",
            RunPrivileges.TunAccess(cluster, () => "open(/dev/net/tun): Permission denied (errno 13)"));
        Assert.Null(RunPrivileges.TunAccess(cluster, () => null));
        // DR and NAT make no TAP: the node is not even tried.
        Assert.Null(RunPrivileges.TunAccess(config, () => throw new InvalidOperationException("asked")));
    }
}
