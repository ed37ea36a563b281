using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Model;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Control;

/// <summary>Which requests a peer on the control socket may send, from fake peer credentials: status for anyone who
/// can connect; backend, health, reload and ha for root, the engine's user and control_admin_group.</summary>
public sealed class ControlAccessTests : IDisposable
{
    private const uint EngineUid = 999;
    private static readonly UnixGroup Admins = new("lbadmin", 2001);
    private static readonly ControlPeer Root = new(10, 0, 0, []);
    private static readonly ControlPeer Engine = new(11, EngineUid, 999, []);
    private static readonly ControlPeer Monitor = new(12, 1001, 1001, [2000]);
    private static readonly ControlPeer AdminBySupplementary = new(13, 1002, 1002, [2000, 2001]);
    private static readonly ControlPeer AdminByPrimary = new(14, 1003, 2001, []);

    private readonly Engine _engine = EngineBuilder.Build(Fixtures.Config(), new FakePlatform(Fixtures.Interfaces).Platform);

    public void Dispose() => _engine.Dispose();

    private static string? Error(string answer) => System.Text.Json.JsonDocument.Parse(answer).RootElement.GetProperty("error").GetString();

    [Theory]
    [InlineData("backend", true)]
    [InlineData("health", true)]
    [InlineData("reload", true)]
    [InlineData("ha", true)]
    [InlineData("status", false)]
    [InlineData("flow", false)]
    [InlineData("flows", false)]
    [InlineData("nonsense", false)]
    public void Changes_StateChangingVerbsOnly(string verb, bool changes)
    {
        Assert.Equal(changes, ControlAccess.Changes(verb));
    }

    [Fact]
    public void Refusal_Status_NobodyIsRefused()
    {
        var access = new ControlAccess(EngineUid, "lb", Admins);
        foreach (var peer in new[] { Root, Engine, Monitor, AdminByPrimary })
            Assert.Null(access.Refusal("status", peer));
    }

    [Fact]
    public void Refusal_ChangingVerb_RootEngineUserAndAdminGroupMembersMay()
    {
        var access = new ControlAccess(EngineUid, "lb", Admins);
        foreach (var verb in new[] { "backend", "health", "reload", "ha" })
            foreach (var peer in new[] { Root, Engine, AdminBySupplementary, AdminByPrimary })
                Assert.Null(access.Refusal(verb, peer));
    }

    [Fact]
    public void Refusal_ChangingVerbFromOthers_SaysWhoMay()
    {
        Assert.Equal("backend refused: uid 1001 is not root, the engine's user (lb, uid 999) or a member of control_admin_group lbadmin (gid 2001)",
            new ControlAccess(EngineUid, "lb", Admins).Refusal("backend", Monitor));
        Assert.Equal("reload refused: uid 1002 is not root, the engine's user (lb, uid 999), and no control_admin_group is set",
            new ControlAccess(EngineUid, "lb", adminGroup: null).Refusal("reload", AdminBySupplementary));
    }

    [Fact]
    public void Handle_DrainFromAMonitor_IsRefusedAndChangesNothing_StatusIsServed()
    {
        var commands = new ControlCommands(_engine, access: new ControlAccess(EngineUid, "lb", Admins));

        Assert.Equal("backend refused: uid 1001 is not root, the engine's user (lb, uid 999) or a member of control_admin_group lbadmin (gid 2001)",
            Error(commands.Handle("backend drain pool pool-1", Monitor)));
        var pool1 = System.Text.Json.JsonDocument.Parse(commands.Handle("status", Monitor)).RootElement.GetProperty("services").EnumerateArray()
            .Single(s => s.GetProperty("name").GetString() == "pool").GetProperty("backends").EnumerateArray()
            .Single(b => b.GetProperty("name").GetString() == "pool-1");
        Assert.Equal("active", pool1.GetProperty("state").GetString());
    }

    [Fact]
    public void Handle_DrainFromAnAdmin_IsApplied()
    {
        var commands = new ControlCommands(_engine, access: new ControlAccess(EngineUid, "lb", Admins));

        Assert.Equal("""{"ok":true,"message":"pool/pool-1 draining: no new flows, existing flows continue"}""", commands.Handle("backend drain pool pool-1", AdminBySupplementary));
    }

    [Fact]
    public void Handle_UnknownCredentials_ChangingVerbRefused()
    {
        var commands = new ControlCommands(_engine, access: new ControlAccess(EngineUid, "lb", Admins));

        Assert.Equal("ha refused: the caller's credentials are unknown", Error(commands.Handle("ha master", peer: null)));
    }
}
