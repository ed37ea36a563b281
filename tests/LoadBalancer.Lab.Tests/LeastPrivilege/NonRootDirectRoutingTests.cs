using System.Globalization;
using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.LeastPrivilege;

/// <summary><c>lb run</c> as a service user holding only CAP_NET_RAW and CAP_NET_ADMIN (as systemd's <c>User=</c>
/// with <c>AmbientCapabilities=</c> starts it), in DR: it serves, checks, and cleans up; without a capability it says
/// which; the control socket lets a monitoring user read and only an admin change.</summary>
public sealed class NonRootDirectRoutingTests(NonRootDrLab fixture) : IClassFixture<NonRootDrLab>
{
    private ServiceAccounts Accounts => fixture.Accounts;
    private NamespaceLab Lab => fixture.Lab;

    /// <summary>An exec check that passes only when it runs as the engine's user with no capabilities at all.</summary>
    private string ExecCheck(string user = "") =>
        "    health:\n      type: exec\n" +
        string.Create(CultureInfo.InvariantCulture, $"      command: 'test \"$(id -u)\" = {Accounts.Engine.Uid} && grep -Eq \"^CapEff:[[:space:]]+0+$\" /proc/self/status'\n") +
        (user.Length > 0 ? $"      user: {user}\n" : "") +
        "      interval: 1s\n      timeout: 900ms\n      rise: 1\n      fall: 1\n";

    private (string Config, string Socket) Config(string name, string extra = "")
    {
        var socket = Path.Combine(Accounts.RuntimeDirectory(Lab, name), "lb.sock");
        return (Accounts.Rewrite(Lab.WriteDrConfig($"{name}.yaml"), socket, extra), socket);
    }

    private string NftTables() => Lab.In(Lab.BalancerNs, "nft list tables netdev").Stdout;

    [LabFact]
    public void Run_ServiceUserWithNetRawAndNetAdmin_ServesChecksWithoutCapabilitiesAndCleansUp()
    {
        var (config, socket) = Config("run-dr", ExecCheck());
        using var engine = Accounts.StartEngine(Lab, Lab.BalancerNs, config, socket);

        var status = File.ReadAllLines($"/proc/{engine.Pid}/status");
        Assert.Equal(Accounts.Engine.Uid.ToString(CultureInfo.InvariantCulture), Field(status, "Uid").Split('\t')[1]);
        Assert.Equal("0000000000003000", Field(status, "CapEff"));
        Assert.Contains("lb_" + Lab.BalancerIf, NftTables());
        // Healthy only if the exec check ran as the engine's user without the engine's capabilities.
        Retry.Until(() => Backends(engine, "web").All(b => b.GetProperty("health").GetString() == "healthy"), TimeSpan.FromSeconds(20),
            "the exec check passing on every web backend");
        var codes = Lab.InClient($"for i in 1 2 3 4; do curl -s --noproxy '*' --max-time 3 -o /dev/null -w '%{{http_code}}\\n' http://{Lab.Vip}/; done").Stdout;
        Assert.Equal(["200", "200", "200", "200"], codes.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(0, engine.Stop());
        Assert.DoesNotContain("lb_" + Lab.BalancerIf, NftTables());
        Assert.False(File.Exists(socket), "control socket left behind");
    }

    [LabFact]
    public void ControlSocket_MonitorReadsStatusButIsRefusedChanges_AdminAndEngineUserMayChange()
    {
        var (config, socket) = Config("control-dr");
        using var engine = Accounts.StartEngine(Lab, Lab.BalancerNs, config, socket);
        var (monitor, admin, owner) = (Accounts.Monitor, Accounts.Admin, Accounts.Engine);
        var control = Shell.Run("getent", ["group", Accounts.ControlGroup]).Stdout.Split(':')[2];
        Assert.Equal($"{owner.Uid} {control} 660", Shell.Run("stat", ["-c", "%u %g %a", socket]).Stdout.Trim());

        var read = Lb(monitor, $"status --json --socket {socket}");
        Assert.True(read.ExitCode == 0, read.Output);
        Assert.Equal(3, JsonDocument.Parse(read.Stdout).RootElement.GetProperty("services").GetArrayLength());

        var drain = Lb(monitor, $"backend drain web rs1 --socket {socket}");
        Assert.Equal(1, drain.ExitCode);
        Assert.Contains($"backend refused: uid {monitor.Uid} is not root, the engine's user ({owner.Name}, uid {owner.Uid}) " +
                        $"or a member of control_admin_group {Accounts.AdminGroup}", drain.Stderr);
        Assert.Contains($"control: backend refused: uid {monitor.Uid}", engine.Log);
        var reload = Lb(monitor, $"reload --config {config} --socket {socket}");
        Assert.Equal(1, reload.ExitCode);
        Assert.Contains($"reload refused: uid {monitor.Uid}", reload.Stderr);
        Assert.Equal("active", State(engine, "rs1"));
        // Outside control_group it cannot even connect.
        var stranger = Lb(new Account("nobody", 65534, 65534, monitor.Home), $"status --socket {socket}");
        Assert.Equal(1, stranger.ExitCode);
        Assert.Contains("cannot reach the engine", stranger.Stderr);

        var adminDrain = Lb(admin, $"backend drain web rs1 --socket {socket}");
        Assert.True(adminDrain.ExitCode == 0, adminDrain.Output);
        Assert.Equal("draining", State(engine, "rs1"));
        var ownDrain = Lb(owner, $"backend enable web rs1 --socket {socket}");
        Assert.True(ownDrain.ExitCode == 0, ownDrain.Output);
        Assert.Equal("active", State(engine, "rs1"));
        Assert.Equal(0, engine.Stop());
    }

    [LabFact]
    public void Run_WithoutNetAdmin_ExitsOneNamingIt_WithoutEither_NamesBoth()
    {
        var (config, _) = Config("nocaps-dr");

        var rawOnly = RunEngine(config, "net_raw");
        Assert.Equal(1, rawOnly.ExitCode);
        Assert.StartsWith("lb run needs CAP_NET_ADMIN (for nftables and the TAP device); it has CAP_NET_RAW only", rawOnly.Stderr);
        var none = RunEngine(config);
        Assert.Equal(1, none.ExitCode);
        Assert.StartsWith("lb run needs CAP_NET_RAW (for packet sockets and ARP) and CAP_NET_ADMIN (for nftables and the TAP device); it has neither", none.Stderr);
        Assert.DoesNotContain("lb_" + Lab.BalancerIf, NftTables());
    }

    [LabFact]
    public void Run_ExecCheckAsAnotherUser_RefusedAtItsLine()
    {
        var (config, _) = Config("user-dr", ExecCheck(user: "nobody"));
        var line = Array.FindIndex(File.ReadAllLines(config), l => l.Trim() == "user: nobody") + 1;

        var run = RunEngine(config, "net_raw", "net_admin");

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith($"{config}:{line}: service web: health user 'nobody' (uid 65534) cannot be used: the engine runs as {Accounts.Engine.Name} " +
                          $"(uid {Accounts.Engine.Uid}), not root, and cannot change user", run.Stderr);
        Assert.DoesNotContain("lb_" + Lab.BalancerIf, NftTables());
    }

    private CommandResult RunEngine(string config, params string[] capabilities) => Accounts.RunEngine(Lab.BalancerNs, config, capabilities);

    private CommandResult Lb(Account user, string args) => Accounts.Lb(user, Lab.BalancerNs, args);

    private static string Field(string[] status, string key) =>
        status.Single(l => l.StartsWith(key + ":", StringComparison.Ordinal))[(key.Length + 1)..].Trim();

    private static JsonElement[] Backends(EngineProcess engine, string service)
    {
        using var status = engine.Status();
        return status.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == service)
            .GetProperty("backends").EnumerateArray().Select(b => b.Clone()).ToArray();
    }

    private static string State(EngineProcess engine, string backend) =>
        Backends(engine, "web").Single(b => b.GetProperty("name").GetString() == backend).GetProperty("state").GetString()!;
}
