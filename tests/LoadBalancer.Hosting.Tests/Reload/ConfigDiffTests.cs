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
