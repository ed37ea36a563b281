using System.Globalization;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.Health;

/// <summary>The health checker against real nginx backends, through the real engine and real clients.</summary>
public sealed class HealthCheckTests(ITestOutputHelper output)
{
    // interval 1s, timeout 500ms, rise 2, fall 2: a dead backend must be out within 1 x 2 + 0.5 + 1 = 3.5 s.
    private const string RunningCheck = """
        type: http
        request: "GET /running HTTP/1.0"
        interval: 1s
        timeout: 500ms
        rise: 2
        fall: 2
        """;
    private static readonly TimeSpan FailoverBound = TimeSpan.FromSeconds(3.5);

    private static string Health(HealthLab lab, string backend) => lab.Backend(backend).GetProperty("health").GetString()!;

    [LabFact]
    public void NginxStopsAndStarts_TenTrials_OutWithinBoundBackAfterRise_NoFailedNewConnectionAfterwards()
    {
        using var lab = HealthLab.Start(2, RunningCheck);
        var failovers = new List<double>();
        var recoveries = new List<double>();

        // A client loop runs through the first failure: it may lose only connections that went to the
        // dead backend before it was taken out, never one after.
        var loop = lab.Lab.InClientBackground(
            $"for i in $(seq 150); do t=$(date +%s%3N); r=$(curl -s --noproxy '*' --max-time 1 http://{lab.Lab.Vip}/ || echo FAILED); echo \"$t $r\"; sleep 0.03; done");
        lab.Connect(1);
        Thread.Sleep(500); // let the loop see both backends healthy first (it records, it does not gate anything)

        for (var trial = 0; trial < 10; trial++)
        {
            lab.Server(1, "stop");
            lab.WaitFor(() => lab.ServerRefuses(1), TimeSpan.FromSeconds(10), "rs1 refusing connections");
            var stoppedAt = DateTimeOffset.UtcNow;
            var failover = lab.WaitFor(() => Health(lab, "rs1") == "unhealthy", TimeSpan.FromSeconds(15), "rs1 unhealthy");
            var outAt = DateTimeOffset.UtcNow;
            failovers.Add(failover.TotalSeconds);
            Assert.True(failover <= FailoverBound, $"trial {trial}: rs1 taken out after {failover.TotalSeconds:F2} s (bound {FailoverBound.TotalSeconds} s)");

            var after = lab.Connect(10);
            Assert.All(after, a => Assert.Equal("rs2", a));

            if (trial == 0)
            {
                var lines = loop();
                var failures = lines.Where(l => l.Value == "FAILED").Select(l => l.At).ToArray();
                output.WriteLine($"client loop: {lines.Count} connections, {failures.Length} failed");
                Assert.All(failures, at => Assert.InRange(at, stoppedAt.AddSeconds(-1), outAt.AddMilliseconds(300)));
                Assert.All(lines.Where(l => l.At > outAt.AddMilliseconds(300)), l => Assert.Equal("rs2", l.Value));
                Assert.Contains(lines, l => l.At > outAt.AddMilliseconds(300));
            }

            lab.Server(1, "start");
            var recovery = lab.WaitFor(() => Health(lab, "rs1") == "healthy", TimeSpan.FromSeconds(15), "rs1 healthy again");
            recoveries.Add(recovery.TotalSeconds);
            Assert.Contains("rs1", lab.Connect(20));
        }

        var summary = string.Create(CultureInfo.InvariantCulture,
            $"failover s: median {Median(failovers):F2} worst {failovers.Max():F2} [{string.Join(' ', failovers.Select(f => f.ToString("F2", CultureInfo.InvariantCulture)))}]; " +
            $"recovery s: median {Median(recoveries):F2} worst {recoveries.Max():F2}");
        output.WriteLine(summary);
        File.AppendAllText(Path.Combine(Path.GetTempPath(), "lb-failover-times.txt"), DateTime.UtcNow.ToString("O") + " " + summary + "\n");
        Assert.Contains("rs1 unhealthy: ", lab.Engine.Log);
        Assert.Contains("after 2/2 failures", lab.Engine.Log);
    }

    [LabFact]
    public void DrainByCommand_LongDownloadOnItCompletes_NoNewConnectionsToIt()
    {
        using var lab = HealthLab.Start(2, RunningCheck);
        var download = lab.StartDownload("drain");
        var carrier = lab.BackendCarryingTraffic();

        var drain = Shell.Run("dotnet", [LabEnvironment.LbDll, "backend", "drain", "web", carrier, "--socket", lab.Engine.Socket]);
        Assert.True(drain.ExitCode == 0, drain.Output);
        Assert.Equal("draining", lab.Backend(carrier).GetProperty("intent").GetString());

        Assert.DoesNotContain(carrier, lab.Connect(30));
        var (exit, sha) = download();
        Assert.Equal(0, exit);
        Assert.Equal(lab.Lab.Env["LAB_BIG_SHA256"], sha);

        var enable = Shell.Run("dotnet", [LabEnvironment.LbDll, "backend", "enable", "web", carrier, "--socket", lab.Engine.Socket]);
        Assert.True(enable.ExitCode == 0, enable.Output);
        Assert.Contains(carrier, lab.Connect(30));
    }

    [LabFact]
    public void WeightCommand_ZeroThenBack_NewConnectionsFollowWithoutRestart()
    {
        using var lab = HealthLab.Start(2, RunningCheck);
        var zero = Shell.Run("dotnet", [LabEnvironment.LbDll, "backend", "weight", "web", "rs1", "0", "--socket", lab.Engine.Socket]);
        Assert.True(zero.ExitCode == 0, zero.Output);
        Assert.Equal(0, lab.Backend("rs1").GetProperty("weight").GetInt32());
        Assert.All(lab.Connect(20), a => Assert.Equal("rs2", a));

        var back = Shell.Run("dotnet", [LabEnvironment.LbDll, "backend", "weight", "web", "rs1", "100", "--socket", lab.Engine.Socket]);
        Assert.True(back.ExitCode == 0, back.Output);
        Assert.Contains("rs1", lab.Connect(30));

        var unknown = Shell.Run("dotnet", [LabEnvironment.LbDll, "backend", "drain", "web", "nosuch", "--socket", lab.Engine.Socket]);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no backend nosuch", unknown.Stderr);
    }

    [LabFact]
    public void SeparateHealthcheckProcess_DrivesTheEngineOverTheControlSocket()
    {
        using var lab = HealthLab.Start(2, RunningCheck, waitHealthy: false, externalChecker: true);
        // Without a checker nothing becomes healthy: backends start unknown and get no traffic.
        Assert.Equal("unknown", Health(lab, "rs1"));
        Assert.All(lab.Connect(2, maxTimeSeconds: 1), a => Assert.Equal("FAILED", a));

        // The checker needs no namespace of its own here: it probes the servers from the balancer's side.
        var psi = new System.Diagnostics.ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "netns", "exec", lab.Lab.BalancerNs, "dotnet", LabEnvironment.LbDll, "healthcheck", "--config", lab.ConfigPath })
            psi.ArgumentList.Add(a);
        using var checker = System.Diagnostics.Process.Start(psi)!;
        var checkerLog = checker.StandardError.ReadToEndAsync();
        try
        {
            lab.WaitFor(() => Health(lab, "rs1") == "healthy" && Health(lab, "rs2") == "healthy", TimeSpan.FromSeconds(20), "healthy via lb healthcheck");
            Assert.Contains("rs1", lab.Connect(20));

            lab.Server(1, "stop");
            lab.WaitFor(() => Health(lab, "rs1") == "unhealthy", TimeSpan.FromSeconds(15), "rs1 unhealthy via lb healthcheck");
            Assert.All(lab.Connect(10), a => Assert.Equal("rs2", a));
        }
        finally
        {
            Shell.Run("kill", ["-TERM", checker.Id.ToString(CultureInfo.InvariantCulture)]);
            if (!checker.WaitForExit(10_000)) checker.Kill();
        }
        Assert.Equal(0, checker.ExitCode);
        Assert.Contains("rs1 unhealthy: http", checkerLog.Result);
    }

    [LabFact]
    public void SoftStopFileRemoved_LongDownloadOnItCompletes_NoNewConnectionsToIt()
    {
        using var lab = HealthLab.Start(2, RunningCheck);
        var download = lab.StartDownload("softstop");
        var carrier = lab.BackendCarryingTraffic();
        var number = int.Parse(carrier[2..], CultureInfo.InvariantCulture);

        lab.Server(number, "softstop");
        lab.WaitFor(() => lab.Backend(carrier).GetProperty("soft_stop").GetBoolean(), TimeSpan.FromSeconds(5), $"{carrier} soft-stopped");
        Assert.Equal("healthy", Health(lab, carrier));
        Assert.Equal("draining", lab.Backend(carrier).GetProperty("state").GetString());

        Assert.DoesNotContain(carrier, lab.Connect(30));
        var (exit, sha) = download();
        Assert.Equal(0, exit);
        Assert.Equal(lab.Lab.Env["LAB_BIG_SHA256"], sha);

        lab.Server(number, "softstart");
        lab.WaitFor(() => !lab.Backend(carrier).GetProperty("soft_stop").GetBoolean(), TimeSpan.FromSeconds(5), $"{carrier} back from soft-stop");
        Assert.Contains(carrier, lab.Connect(30));
        Assert.Contains($"{carrier} soft-stopped", lab.Engine.Log);
    }

    [LabFact]
    public void Backup_TakesOverOnlyWhenEveryNormalBackendIsDown_AndGivesBack()
    {
        using var lab = HealthLab.Start(3, RunningCheck, backups: [3]);
        lab.WaitFor(() => Health(lab, "rs3") == "healthy", TimeSpan.FromSeconds(15), "rs3 healthy");
        Assert.Equal("standby", lab.Backend("rs3").GetProperty("state").GetString());
        Assert.DoesNotContain("rs3", lab.Connect(30));

        lab.Server(1, "stop");
        lab.WaitFor(() => Health(lab, "rs1") == "unhealthy", TimeSpan.FromSeconds(15), "rs1 unhealthy");
        Assert.All(lab.Connect(15), a => Assert.Equal("rs2", a));

        lab.Server(2, "stop");
        lab.WaitFor(() => Health(lab, "rs2") == "unhealthy", TimeSpan.FromSeconds(15), "rs2 unhealthy");
        Assert.All(lab.Connect(15), a => Assert.Equal("rs3", a));

        lab.Server(1, "start");
        lab.WaitFor(() => Health(lab, "rs1") == "healthy", TimeSpan.FromSeconds(15), "rs1 healthy");
        Assert.All(lab.Connect(15), a => Assert.Equal("rs1", a));
    }

    [LabFact]
    public void WhenAllDownDrop_NothingHealthy_NewConnectionsDroppedAndCounted()
    {
        // The check targets port 81, where nothing listens: every backend is unhealthy while nginx serves :80.
        using var lab = HealthLab.Start(2, "type: tcp\nport: 81\ninterval: 1s\ntimeout: 500ms", "when_all_down: drop", waitHealthy: false);
        lab.WaitFor(() => Health(lab, "rs1") == "unhealthy" && Health(lab, "rs2") == "unhealthy", TimeSpan.FromSeconds(15), "all unhealthy");
        Assert.True(lab.Service().GetProperty("all_down").GetBoolean());
        var before = NoBackendDrops(lab);

        Assert.All(lab.Connect(3, maxTimeSeconds: 1), a => Assert.Equal("FAILED", a));
        Assert.True(NoBackendDrops(lab) > before);
    }

    [LabFact]
    public void WhenAllDownUseAll_NothingHealthy_EveryActiveBackendServes()
    {
        using var lab = HealthLab.Start(2, "type: tcp\nport: 81\ninterval: 1s\ntimeout: 500ms", "when_all_down: use_all", waitHealthy: false);
        lab.WaitFor(() => Health(lab, "rs1") == "unhealthy" && Health(lab, "rs2") == "unhealthy", TimeSpan.FromSeconds(15), "all unhealthy");

        var answers = lab.Connect(30);
        Assert.DoesNotContain("FAILED", answers);
        Assert.Contains("rs1", answers);
        Assert.Contains("rs2", answers);
    }

    [LabFact]
    public void OnBackendDownKeep_ExistingDownloadOnUnhealthyBackendCompletes()
    {
        using var lab = HealthLab.Start(2, RunningCheck + "\nsoft_stop: none", "on_backend_down: keep");
        var download = lab.StartDownload("keep");
        var carrier = lab.BackendCarryingTraffic();

        // Without soft-stop, a missing /running is a 404 failure: the backend turns unhealthy while it still serves.
        lab.Server(int.Parse(carrier[2..], CultureInfo.InvariantCulture), "softstop");
        lab.WaitFor(() => Health(lab, carrier) == "unhealthy", TimeSpan.FromSeconds(15), $"{carrier} unhealthy");
        Assert.DoesNotContain(carrier, lab.Connect(20));

        var (exit, sha) = download();
        Assert.Equal(0, exit);
        Assert.Equal(lab.Lab.Env["LAB_BIG_SHA256"], sha);
    }

    [LabFact]
    public void OnBackendDownReassign_ExistingDownloadMovesToTheOtherBackendAndBreaks()
    {
        using var lab = HealthLab.Start(2, RunningCheck + "\nsoft_stop: none", "on_backend_down: reassign");
        var download = lab.StartDownload("reassign", rate: "1000k");
        var carrier = lab.BackendCarryingTraffic();

        lab.Server(int.Parse(carrier[2..], CultureInfo.InvariantCulture), "softstop");
        lab.WaitFor(() => Health(lab, carrier) == "unhealthy", TimeSpan.FromSeconds(15), $"{carrier} unhealthy");

        // Its packets now go to the other server, which knows no such connection and resets it.
        var (exit, _) = download();
        Assert.NotEqual(0, exit);
    }

    [LabFact]
    public void OnBackendDownDrop_ExistingFlowsPacketsDroppedAndCounted()
    {
        using var lab = HealthLab.Start(2, RunningCheck + "\nsoft_stop: none", "on_backend_down: drop");
        var download = lab.StartDownload("drop", rate: "1000k", maxTimeSeconds: 12);
        var carrier = lab.BackendCarryingTraffic();

        lab.Server(int.Parse(carrier[2..], CultureInfo.InvariantCulture), "softstop");
        lab.WaitFor(() => Health(lab, carrier) == "unhealthy", TimeSpan.FromSeconds(15), $"{carrier} unhealthy");
        lab.WaitFor(() => BackendDownDrops(lab) > 0, TimeSpan.FromSeconds(10), "backend_down drops");
        Assert.All(lab.Connect(10), a => Assert.NotEqual(carrier, a));
        // Its packets vanish: the transfer stalls and never completes.
        Assert.NotEqual(0, download().Exit);
    }

    [LabFact]
    public void FlappingBackend_FasterThanRiseAndFall_NeverChangesTheTable()
    {
        // /flap on :8080 answers 200 and 503 in turn: never two equal results in a row.
        using var lab = HealthLab.Start(2, "type: http\nport: 8080\nrequest: \"GET /flap HTTP/1.0\"\ninterval: 500ms\ntimeout: 400ms\nrise: 2\nfall: 2\ninitial: healthy");
        lab.WaitFor(() => Failures(lab, "rs1") > 4 && Failures(lab, "rs2") > 4, TimeSpan.FromSeconds(20), "several failed checks on both");

        Assert.Equal("healthy", Health(lab, "rs1"));
        Assert.Equal("healthy", Health(lab, "rs2"));
        Assert.DoesNotContain("unhealthy", lab.Engine.Log);
        Assert.DoesNotContain("table rebuilt", lab.Engine.Log);
    }

    private readonly HashSet<string> _seenFailures = new();

    /// <summary>Failed checks seen so far for a backend (each poll records the latest check). Every failure
    /// must be the first of its run: a flapping backend never fails twice in a row.</summary>
    private int Failures(HealthLab lab, string backend)
    {
        var b = lab.Backend(backend);
        var last = b.GetProperty("last_check");
        if (last.ValueKind == System.Text.Json.JsonValueKind.Object && !last.GetProperty("ok").GetBoolean())
        {
            _seenFailures.Add($"{backend}@{last.GetProperty("at").GetString()}");
            Assert.Equal(1, b.GetProperty("consecutive").GetInt32());
        }
        return _seenFailures.Count(k => k.StartsWith(backend + "@", StringComparison.Ordinal));
    }

    private static long NoBackendDrops(HealthLab lab)
    {
        using var doc = lab.Engine.Status();
        return doc.RootElement.GetProperty("drops").GetProperty("no_backend").GetInt64();
    }

    private static long BackendDownDrops(HealthLab lab)
    {
        using var doc = lab.Engine.Status();
        return doc.RootElement.GetProperty("drops").GetProperty("backend_down").GetInt64();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
