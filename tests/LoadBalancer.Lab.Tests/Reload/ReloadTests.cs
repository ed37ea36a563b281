using System.Globalization;
using System.Text;
using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.Reload;

/// <summary>The HA lab's topology with one balancer and no keepalived (the NAT gateway held by the balancer itself):
/// a DR and a NAT service on four nginx servers, the engine reloaded live while downloads and new connections run.</summary>
public sealed class ReloadLab : IDisposable
{
    public const string DrVip = "10.99.0.100";
    public const string NatVip = "10.99.0.101";
    /// <summary>The VIP of the service a reload adds (NAT: the servers need nothing for it).</summary>
    public const string NewVip = "10.99.0.102";

    public ReloadLab()
    {
        Lab = NamespaceLab.UpHa(4);
        try
        {
            Lab.In(Lab.BalancerNs, $"ip addr add 10.99.4.1/24 dev {Lab.Prefix}a1");
            Lab.In(Lab.RouterNs, $"ip route add {NewVip}/32 dev {Lab.RouterLanIf}");
        }
        catch
        {
            Lab.Dispose();
            throw;
        }
    }

    public NamespaceLab Lab { get; }
    public string Socket => Path.Combine(Lab.Dir, "reload.sock");
    public string ConfigPath => Path.Combine(Lab.Dir, "reload.yaml");

    /// <summary>The lab's config: web-dr and web-nat on <paramref name="servers"/> (1-based), <paramref name="weights"/>
    /// by server where not 1, web-nat2 on the new VIP when <paramref name="newService"/>, http checks on /running every
    /// 300 ms, <c>on_backend_down: keep</c>, closing flows forgotten after 2 s (so a leaving backend goes soon after
    /// its downloads end); <paramref name="extra"/> appended at the top level.</summary>
    public string Config(int[] servers, Dictionary<int, int>? weights = null, bool newService = false, string extra = "")
    {
        var p = Lab.Prefix;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"hash_seed: 0x5eed\nworkers: 1\ncontrol_socket: {Socket}\nflow_timeouts: {{tcp_closing: 2s}}\n{extra}services:\n");
        void Service(string name, string vip, string mode, string net)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  - name: {name}\n    vip: {vip}\n    port: 80\n    protocol: tcp\n    mode: {mode}\n    interface: {p}a0\n");
            if (mode == "nat") sb.Append(CultureInfo.InvariantCulture, $"    backend_interface: {p}a1\n");
            sb.Append("    on_backend_down: keep\n");
            sb.Append("    health: {type: http, request: \"GET /running HTTP/1.0\", interval: 300ms, timeout: 250ms, rise: 1, fall: 2}\n");
            sb.Append("    backends:\n");
            foreach (var i in servers)
            {
                var weight = weights is not null && weights.TryGetValue(i, out var w) ? $", weight: {w}" : "";
                sb.Append(CultureInfo.InvariantCulture, $"      - {{name: rs{i}, address: {net}.{10 + i}{weight}}}\n");
            }
        }
        Service("web-dr", DrVip, "dr", "10.99.1");
        Service("web-nat", NatVip, "nat", "10.99.4");
        if (newService) Service("web-nat2", NewVip, "nat", "10.99.4");
        return sb.ToString();
    }

    public EngineProcess Start(string config)
    {
        File.WriteAllText(ConfigPath, config);
        var engine = EngineProcess.StartIn(Lab, Lab.BalancerNs, ConfigPath, Socket);
        Retry.Until(() => AllHealthy(engine), TimeSpan.FromSeconds(20), "every backend healthy");
        return engine;
    }

    public static bool AllHealthy(EngineProcess engine)
    {
        using var s = engine.Status();
        return s.RootElement.GetProperty("services").EnumerateArray()
            .All(svc => svc.GetProperty("backends").EnumerateArray().All(b => b.GetProperty("health").GetString() == "healthy"));
    }

    /// <summary><c>lb ARGS</c> in the balancer's namespace.</summary>
    public CommandResult Lb(string args) =>
        Shell.InNamespace(Lab.BalancerNs, ["bash", "-c", $"dotnet {Shell.Quote(LabEnvironment.LbDll)} {args}"], TimeSpan.FromSeconds(30));

    public void Dispose() => Lab.Dispose();
}

/// <summary>Live reload (<c>lb reload</c>, SIGHUP) against the real engine, nginx and curl: what must survive does,
/// what is refused changes nothing.</summary>
public sealed class ReloadTests(ReloadLab lab, ITestOutputHelper output) : IClassFixture<ReloadLab>
{
    private const int DownloadsPerService = 6;

    [LabFact]
    public void ReloadUnderLoad_KeepsFlowsCountersHealthAndDrain_AppliesTheChanges()
    {
        using var engine = lab.Start(lab.Config([1, 2, 3]));
        var net = lab.Lab;
        var downloads = new List<(string Name, Func<(int Exit, string Sha)> Wait)>();
        for (var i = 0; i < DownloadsPerService; i++)
        {
            downloads.Add(($"dr-{i}", net.ThrottledDownload(ReloadLab.DrVip, $"reload-dr-{i}")));
            downloads.Add(($"nat-{i}", net.ThrottledDownload(ReloadLab.NatVip, $"reload-nat-{i}")));
        }
        NamespaceLab.WaitForBytes(net, downloads.Select(d => $"reload-{d.Name}"));
        foreach (var service in new[] { "web-dr", "web-nat" })
            Assert.Equal(0, lab.Lb($"backend drain {service} rs1 --socket {lab.Socket}").ExitCode);

        // New connections all along: one to each VIP every 50 ms for 12 s, each bounded to 2 s.
        var stream = net.InClientBackground(
            $"end=$((SECONDS + 12)); while (( SECONDS < end )); do for v in {ReloadLab.DrVip} {ReloadLab.NatVip}; do " +
            "c=$(curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' http://$v/); echo \"$(date +%s%3N) $v=$c\"; done; sleep 0.05; done");
        Retry.Until(() => Backend(engine, "web-dr", "rs2").GetProperty("packets").GetInt64() > 0, TimeSpan.FromSeconds(5), "traffic on rs2");

        using var before = engine.Status();
        var reloaded = lab.Lb($"reload --config {lab.ConfigPath} --socket {lab.Socket}");
        Assert.Equal(0, reloaded.ExitCode);
        Assert.Equal("no changes", reloaded.Stdout.Trim());

        var next = lab.ConfigPath + ".next";
        File.WriteAllText(next, lab.Config([1, 2, 4], new Dictionary<int, int> { [2] = 3 }, newService: true));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = lab.Lb($"reload --config {next} --socket {lab.Socket}");
        clock.Stop();
        output.WriteLine($"lb reload: exit {r.ExitCode} in {clock.Elapsed.TotalMilliseconds:F0} ms (process start included)\n{r.Output}");
        Assert.True(r.ExitCode == 0, r.Output + engine.Log);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var service in new[] { "web-dr", "web-nat" })
        {
            Assert.Contains(lines, l => l.Contains($"{service}/rs4", StringComparison.Ordinal) && l.Contains("added", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains($"{service}/rs3", StringComparison.Ordinal) && l.Contains("leaving", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains($"{service}/rs2", StringComparison.Ordinal) && l.Contains("weight", StringComparison.Ordinal));
        }
        Assert.Contains(lines, l => l.Contains("web-nat2", StringComparison.Ordinal) && l.Contains("added", StringComparison.Ordinal));

        using (var after = engine.Status())
        {
            foreach (var service in new[] { "web-dr", "web-nat" })
            {
                foreach (var kept in new[] { "rs1", "rs2" })
                {
                    var b0 = Backend(before, service, kept);
                    var b1 = Backend(after, service, kept);
                    output.WriteLine($"{service}/{kept}: packets {b0.GetProperty("packets")} -> {b1.GetProperty("packets")}, " +
                                     $"consecutive {b0.GetProperty("consecutive")} -> {b1.GetProperty("consecutive")}, health {b1.GetProperty("health")}");
                    Assert.Equal("healthy", b1.GetProperty("health").GetString());
                    Assert.True(b1.GetProperty("packets").GetInt64() >= b0.GetProperty("packets").GetInt64(), $"{service}/{kept} packets went down");
                    Assert.True(b1.GetProperty("bytes").GetInt64() >= b0.GetProperty("bytes").GetInt64(), $"{service}/{kept} bytes went down");
                    Assert.True(b1.GetProperty("consecutive").GetInt32() >= b0.GetProperty("consecutive").GetInt32(), $"{service}/{kept} checks restarted");
                }
                Assert.Equal("draining", Backend(after, service, "rs1").GetProperty("intent").GetString());
                Assert.Equal(3, Backend(after, service, "rs2").GetProperty("weight").GetInt32());
                Assert.Equal("leaving", Backend(after, service, "rs3").GetProperty("state").GetString());
                var svc0 = Service(before, service);
                var svc1 = Service(after, service);
                Assert.True(svc1.GetProperty("packets").GetInt64() >= svc0.GetProperty("packets").GetInt64(), $"{service} packets went down");
            }
            Assert.Equal(2, after.RootElement.GetProperty("config").GetProperty("reloads").GetInt32());
        }

        // The added backend takes new flows once its check passes; the added service answers once its own backends,
        // which start `unknown` like any added backend, have passed theirs (CI once asked it 3 connections early).
        Retry.Until(() => Backend(engine, "web-dr", "rs4").GetProperty("health").GetString() == "healthy" &&
                          Backend(engine, "web-nat", "rs4").GetProperty("health").GetString() == "healthy" &&
                          new[] { "rs1", "rs2", "rs4" }.All(b => Backend(engine, "web-nat2", b).GetProperty("health").GetString() == "healthy"),
            TimeSpan.FromSeconds(10), "rs4 and web-nat2's backends healthy");
        foreach (var vip in new[] { ReloadLab.DrVip, ReloadLab.NatVip, ReloadLab.NewVip })
        {
            var answers = Answers(vip, 40);
            output.WriteLine($"{vip}: {string.Join(", ", answers.GroupBy(a => a).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"))}");
            Assert.Equal(40, answers.Count(a => a.StartsWith("rs", StringComparison.Ordinal)));
            Assert.Contains("rs4", answers);
            if (vip != ReloadLab.NewVip)
            {
                Assert.DoesNotContain("rs1", answers);
                Assert.DoesNotContain("rs3", answers);
            }
        }

        var failed = stream().Where(s => !s.Value.EndsWith("=200", StringComparison.Ordinal)).ToList();
        Assert.True(failed.Count == 0, $"new connections failed: {string.Join(", ", failed.Select(f => $"{f.At:HH:mm:ss.fff} {f.Value}"))}");
        var broken = net.Broken(downloads.Select(d => (d.Name, d.Wait)));
        Assert.True(broken.Count == 0, $"broken downloads: {string.Join(", ", broken)}\n{engine.Log}");

        // rs3's flows have ended: it is gone.
        Retry.Until(() => !Service(engine, "web-dr").GetProperty("backends").EnumerateArray().Any(b => b.GetProperty("name").GetString() == "rs3"),
            TimeSpan.FromSeconds(10), "rs3 removed once its flows ended");
    }

    [LabFact]
    public void InvalidConfig_Exit2WithFileAndLine_NothingChanges_RestartOnlyKeyRefusedByName()
    {
        using var engine = lab.Start(lab.Config([1, 2]));
        var before = Shape(engine);

        var bad = Path.Combine(lab.Lab.Dir, "bad.yaml");
        File.WriteAllText(bad, lab.Config([1, 2]).Replace("address: 10.99.1.12", "address: 10.99.1.300", StringComparison.Ordinal));
        var check = lab.Lb($"check --config {bad}");
        var r = lab.Lb($"reload --config {bad} --socket {lab.Socket}");
        output.WriteLine(r.Output);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(check.Stdout, r.Stdout);
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(bad)}:\\d+: ", r.Stdout);

        var restart = Path.Combine(lab.Lab.Dir, "restart.yaml");
        File.WriteAllText(restart, lab.Config([1, 2]).Replace("workers: 1", "workers: 2", StringComparison.Ordinal));
        var refused = lab.Lb($"reload --config {restart} --socket {lab.Socket}");
        output.WriteLine(refused.Output);
        Assert.Equal(2, refused.ExitCode);
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(restart)}:2: .*workers.*restart", refused.Stdout);

        Assert.Equal(before, Shape(engine));
        Assert.Equal(40, Answers(ReloadLab.DrVip, 40).Count(a => a.StartsWith("rs", StringComparison.Ordinal)));
        Assert.False(engine.HasExited);
    }

    [LabFact]
    public void Sighup_RereadsTheStartFile_LikeLbReload()
    {
        using var engine = lab.Start(lab.Config([1, 2]));
        var consecutive = Backend(engine, "web-nat", "rs1").GetProperty("consecutive").GetInt32();
        File.WriteAllText(lab.ConfigPath, lab.Config([1, 2], new Dictionary<int, int> { [2] = 7 }));

        Shell.Run("kill", ["-HUP", engine.Pid.ToString(CultureInfo.InvariantCulture)]);

        Retry.Until(() => Backend(engine, "web-nat", "rs2").GetProperty("weight").GetInt32() == 7, TimeSpan.FromSeconds(10), "weight 7 after SIGHUP");
        using var status = engine.Status();
        Assert.Equal(1, status.RootElement.GetProperty("config").GetProperty("reloads").GetInt32());
        Assert.Equal("healthy", Backend(status, "web-nat", "rs1").GetProperty("health").GetString());
        Assert.True(Backend(status, "web-nat", "rs1").GetProperty("consecutive").GetInt32() >= consecutive);
        Assert.Contains("weight", engine.Log, StringComparison.Ordinal);
        Assert.False(engine.HasExited);
    }

    /// <summary>The bodies of <paramref name="count"/> new connections to <paramref name="vip"/> (each server answers its name).</summary>
    /// <summary>Which block of client ports the next <see cref="Answers"/> takes. web-nat and web-nat2 share their
    /// backends and ports, so a client port that just closed on one VIP, reused on the other while its session is
    /// still closing, is the same connection to the backend, and its replies find the older session (a NAT without
    /// source translation cannot tell the two apart): CI saw one or three of 40 fail that way. So each call has a
    /// block of its own, below the kernel's ephemeral range (where the background stream's ports are); curl takes the
    /// first port of the block it can bind, skipping those a run before left in TIME_WAIT.</summary>
    private int _portBlock;

    private List<string> Answers(string vip, int count)
    {
        var low = 10000 + 2000 * _portBlock++;
        return lab.Lab.InClient($"for i in $(seq {count}); do curl -s --noproxy '*' --max-time 2 --local-port {low}-{low + 1999} http://{vip}/; echo; done", 120).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToList();
    }

    /// <summary>Everything status says of services and backends except counters and check times.</summary>
    private static string Shape(EngineProcess engine)
    {
        using var s = engine.Status();
        var sb = new StringBuilder();
        foreach (var svc in s.RootElement.GetProperty("services").EnumerateArray())
        {
            sb.Append(CultureInfo.InvariantCulture, $"{svc.GetProperty("name")} {svc.GetProperty("mode")} {svc.GetProperty("vip")}:{svc.GetProperty("port")}\n");
            foreach (var b in svc.GetProperty("backends").EnumerateArray())
                sb.Append(CultureInfo.InvariantCulture, $"  {b.GetProperty("name")} {b.GetProperty("address")} {b.GetProperty("weight")} {b.GetProperty("state")} " +
                                                         $"{b.GetProperty("health")} {b.GetProperty("intent")}\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"reloads {s.RootElement.GetProperty("config").GetProperty("reloads")} snapshot {s.RootElement.GetProperty("config").GetProperty("snapshot")}\n");
        return sb.ToString();
    }

    private static JsonElement Service(JsonDocument status, string name) =>
        status.RootElement.GetProperty("services").EnumerateArray().First(s => s.GetProperty("name").GetString() == name).Clone();

    private static JsonElement Service(EngineProcess engine, string name)
    {
        using var s = engine.Status();
        return Service(s, name);
    }

    private static JsonElement Backend(JsonDocument status, string service, string name) =>
        Service(status, service).GetProperty("backends").EnumerateArray().First(b => b.GetProperty("name").GetString() == name).Clone();

    private static JsonElement Backend(EngineProcess engine, string service, string name)
    {
        using var s = engine.Status();
        return Backend(s, service, name);
    }
}
