using System.Net;
using LoadBalancer.Core.Model;
using LoadBalancer.Health.Probes;
using LoadBalancer.TestKit;
using static LoadBalancer.Health.Tests.TestServers;

namespace LoadBalancer.Health.Tests.Probes;

public class ExecProbeTests
{
    private static readonly HealthCheckConfig Check = new() { Type = HealthCheckType.Exec, Timeout = TimeSpan.FromSeconds(10) };
    private static readonly IHealthProbe Probe = HealthProbes.For(HealthCheckType.Exec);

    [Theory]
    [InlineData("true", true, "exec exit 0")]
    [InlineData("false", false, "exec exit 1")]
    [InlineData("exit 7", false, "exec exit 7")]
    public async Task CheckAsync_Command_OkOnExitZero(string command, bool ok, string detail)
    {
        var result = await Probe.CheckAsync(Target(80, Check with { Command = command }), CancellationToken.None);

        Assert.Equal(new ProbeResult(ok, detail), result);
    }

    [Fact]
    public async Task CheckAsync_Placeholders_AreSubstituted()
    {
        var check = Check with { Command = "test '{address}' = 127.0.0.1 && test {port} = 4242" };

        var result = await Probe.CheckAsync(Target(4242, check), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "exec exit 0"), result);
    }

    [Fact]
    public void Command_Ipv6Target_SubstitutesAddressAndPort()
    {
        var target = new HealthTarget("web", "web1", IPAddress.Parse("2001:db8::5"), 8080,
            Check with { Command = "curl -sf http://[{address}]:{port}/ {port}" });

        Assert.Equal("curl -sf http://[2001:db8::5]:8080/ 8080", ExecProbe.Command(target));
    }

    [Fact]
    public async Task CheckAsync_ChattyCommand_DoesNotBlockOnItsOutput()
    {
        // A megabyte on each stream: far more than a pipe holds, so this finishes only if both are drained.
        var check = Check with { Command = "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2" };

        var result = await Probe.CheckAsync(Target(80, check), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "exec exit 0"), result);
    }

    [Fact]
    public async Task CheckAsync_Sleep_KilledAtTimeout()
    {
        var check = Check with { Command = "sleep 5", Timeout = TimeSpan.FromMilliseconds(300) };

        var result = await CheckWithinTimeoutAsync(Probe, 80, check);

        Assert.Equal(new ProbeResult(false, "timeout after 300 ms"), result);
    }

    [Fact]
    public async Task CheckAsync_Timeout_KillsTheWholeProcessTree()
    {
        var pids = Path.Combine(Path.GetTempPath(), $"lb-health-{Guid.NewGuid():N}.pids");
        try
        {
            // The shell starts a child in the background and waits: both must be gone after the timeout.
            var check = Check with
            {
                Command = $"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; wait",
                Timeout = TimeSpan.FromMilliseconds(500),
            };

            var result = await CheckWithinTimeoutAsync(Probe, 80, check);

            Assert.Equal(new ProbeResult(false, "timeout after 500 ms"), result);
            var ids = File.ReadAllLines(pids).Select(int.Parse).ToArray();
            Assert.Equal(2, ids.Length);
            foreach (var id in ids)
                await Eventually.TrueAsync(() => !IsRunning(id), $"process {id} to die");
        }
        finally
        {
            File.Delete(pids);
        }
    }

    private static readonly ExecUser Nobody = new("nobody", 65534, 65534, "/nonexistent");

    [Fact]
    public async Task CheckAsync_User_RunsAsThatUserWithItsGroupsAndAMinimalEnvironment()
    {
        var seen = await SeenByCommandAsync(Nobody);

        Assert.Equal(
        [
            "uid 65534", "gid 65534", "groups 65534", "cwd /",
            // PWD is the shell's own, set as it starts; LB_EXEC_TEST_SECRET, set in the checker, is not there.
            "HOME=/nonexistent", "LOGNAME=nobody", $"PATH={ExecProbe.SearchPath}", "PWD=/", "USER=nobody",
        ], seen);
    }

    [Fact]
    public async Task CheckAsync_NoUser_RunsAsTheCheckerWithAMinimalEnvironment()
    {
        var seen = await SeenByCommandAsync(user: null);

        // The tests run as root, as lb run does.
        Assert.Equal("uid 0", seen[0]);
        Assert.Equal(["cwd /", "HOME=/root", "LOGNAME=root", $"PATH={ExecProbe.SearchPath}", "PWD=/", "USER=root"], seen[3..]);
    }

    [Fact]
    public async Task CheckAsync_UserCheckInShell_ExitsZeroOnlyAsNobodyWithoutTheCheckersVariables()
    {
        Environment.SetEnvironmentVariable("LB_EXEC_TEST_SECRET", "from the checker");
        try
        {
            var check = Check with { Command = """[ "$(id -u)" = 65534 ] && [ -z "$LB_EXEC_TEST_SECRET" ]""", User = Nobody };

            var result = await Probe.CheckAsync(Target(80, check), CancellationToken.None);

            Assert.Equal(new ProbeResult(true, "exec exit 0"), result);
        }
        finally
        {
            Environment.SetEnvironmentVariable("LB_EXEC_TEST_SECRET", null);
        }
    }

    [Fact]
    public void StartInfo_User_GoesThroughSetprivWithNumericIds()
    {
        var info = ExecProbe.StartInfo(Target(80, Check with { Command = "true", User = Nobody }));

        Assert.Equal(ExecProbe.Setpriv, info.FileName);
        Assert.Equal(["--reuid=65534", "--regid=65534", "--init-groups", "--", ExecProbe.Shell, "-c", "true"], info.ArgumentList);
    }

    [Fact]
    public void StartInfo_NotRoot_DropsTheCheckersCapabilities()
    {
        var info = ExecProbe.StartInfo(Target(80, Check with { Command = "true" }), privileged: false);

        Assert.Equal(ExecProbe.Setpriv, info.FileName);
        Assert.Equal(["--inh-caps=-all", "--ambient-caps=-all", "--", ExecProbe.Shell, "-c", "true"], info.ArgumentList);
    }

    [Fact]
    public void StartInfo_Root_NoUser_RunsTheShellItself()
    {
        var info = ExecProbe.StartInfo(Target(80, Check with { Command = "true" }), privileged: true);

        Assert.Equal(ExecProbe.Shell, info.FileName);
        Assert.Equal(["-c", "true"], info.ArgumentList);
    }

    /// <summary>What the command of a checker that is not root but holds ambient capabilities (as <c>lb run</c> under
    /// a service user does) sees: setpriv itself run with those, the command with none.</summary>
    [Fact]
    public async Task StartInfo_NotRootWithAmbientCapabilities_CommandRunsWithNone()
    {
        if (!Environment.IsPrivilegedProcess) return; // it needs root to make such a checker
        var info = ExecProbe.StartInfo(Target(80, Check with { Command = "grep Cap /proc/self/status; id -u" }), privileged: false);
        var outer = new System.Diagnostics.ProcessStartInfo("setpriv") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+net_raw,+net_admin", "--ambient-caps=+net_raw,+net_admin", "--", info.FileName })
            outer.ArgumentList.Add(a);
        foreach (var a in info.ArgumentList) outer.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(outer)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(10_000));

        Assert.Contains("CapEff:\t0000000000000000", output);
        Assert.Contains("CapAmb:\t0000000000000000", output);
        Assert.Contains("CapInh:\t0000000000000000", output);
        Assert.EndsWith("65534", output.Trim());
    }

    [Fact]
    public async Task CheckAsync_UserTimeout_KillsTheWholeProcessTree()
    {
        var pids = Path.Combine(Path.GetTempPath(), $"lb-health-{Guid.NewGuid():N}.pids");
        try
        {
            var check = Check with
            {
                Command = $"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; wait",
                Timeout = TimeSpan.FromMilliseconds(500),
                User = Nobody,
            };

            var result = await CheckWithinTimeoutAsync(Probe, 80, check);

            Assert.Equal(new ProbeResult(false, "timeout after 500 ms"), result);
            foreach (var id in File.ReadAllLines(pids).Select(int.Parse))
                await Eventually.TrueAsync(() => !IsRunning(id), $"process {id} to die");
        }
        finally
        {
            File.Delete(pids);
        }
    }

    [Fact]
    public async Task CheckAsync_EmptyCommand_Fails()
    {
        var result = await Probe.CheckAsync(Target(80, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "exec no command"), result);
    }

    /// <summary>What a command run as <paramref name="user"/> sees: its ids, working directory and environment (sorted),
    /// written to a file by the command itself, with <c>LB_EXEC_TEST_SECRET</c> set in the checker's environment.</summary>
    private static async Task<string[]> SeenByCommandAsync(ExecUser? user)
    {
        var output = Path.Combine(Path.GetTempPath(), $"lb-health-{Guid.NewGuid():N}.out");
        Environment.SetEnvironmentVariable("LB_EXEC_TEST_SECRET", "from the checker");
        try
        {
            var command = $"{{ echo uid $(id -u); echo gid $(id -g); echo groups $(id -G); echo cwd $(pwd); env | sort; }} > {output}";

            var result = await Probe.CheckAsync(Target(80, Check with { Command = command, User = user }), CancellationToken.None);

            Assert.Equal(new ProbeResult(true, "exec exit 0"), result);
            return File.ReadAllLines(output);
        }
        finally
        {
            Environment.SetEnvironmentVariable("LB_EXEC_TEST_SECRET", null);
            File.Delete(output);
        }
    }

    /// <summary>Alive and not a zombie (an orphan whose new parent has not reaped it yet is dead).</summary>
    private static bool IsRunning(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return false;
        }
        // "pid (comm) S ...": the state follows the last ')'.
        var state = stat[(stat.LastIndexOf(')') + 2)..][0];
        return state is not ('Z' or 'X');
    }

    [Fact]
    public async Task CheckAsync_Ipv6Target_CommandGetsTheAddressAndPort()
    {
        var check = Check with { Command = "test '{address}' = ::1 && test '[{address}]:{port}' = '[::1]:4242'" };

        var result = await Probe.CheckAsync(Target(4242, check, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "exec exit 0"), result);
    }

    [Fact]
    public async Task CheckAsync_Ipv6Target_CommandReachesTheBackend()
    {
        // The exec check's own traffic, over IPv6: bash's /dev/tcp takes the bare address.
        await using var server = new SilentTcpServer(IPAddress.IPv6Loopback);
        var check = Check with { Command = "exec bash -c 'exec 3<>/dev/tcp/{address}/{port}'" };

        var result = await Probe.CheckAsync(Target(server.Port, check, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "exec exit 0"), result);
        await Eventually.TrueAsync(() => server.Accepted == 1, "the command to connect");
    }
}
