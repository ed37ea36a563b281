using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>The HA lab (lab/lib/labs/ha.sh) with its two balancers: each one's engine and keepalived started and
/// killed through the lab's own functions, its status read with <c>lb status</c>, downloads through either VIP.
/// Built once per test class (a class fixture); <see cref="Reset"/> brings both balancers back to a known start.</summary>
public sealed class HaLab : IDisposable
{
    public const string DrVip = "10.99.0.100";
    public const string NatVip = "10.99.0.101";

    public HaLab() => Lab = NamespaceLab.UpHa(3);

    public NamespaceLab Lab { get; }
    public string Prefix => Lab.Prefix;
    public string Dir => Lab.Dir;
    public string Namespace(int node) => $"{Prefix}-b{node}";
    public string FrontInterface(int node) => Prefix + (node == 1 ? "a0" : "b0");
    public string BackInterface(int node) => Prefix + (node == 1 ? "a1" : "b1");
    public string Config(int node) => Path.Combine(Dir, $"lb{node}.yaml");

    /// <summary>Runs lab functions with the lab's variables set.</summary>
    public CommandResult Topology(string commands, int timeoutSeconds = 60) =>
        NamespaceLab.Topology($"lab_set_env {Prefix}; {commands}", TimeSpan.FromSeconds(timeoutSeconds));

    /// <summary>Balancer <paramref name="node"/>'s engine, then its keepalived, with fresh configs: with state sync
    /// unless <paramref name="sync"/> is false, authenticated with <paramref name="keyFile"/> when given.</summary>
    public void Start(int node, bool sync = true, string? keyFile = null)
    {
        File.Delete(Config(node));
        File.Delete(Path.Combine(Dir, $"keepalived{node}.conf"));
        var r = Topology($"lab_start_ha_node {Prefix} {node} {(sync ? "sync" : "nosync")} {keyFile ?? ""}", 90);
        if (r.ExitCode != 0) throw new InvalidOperationException($"lab_start_ha_node {node} failed:\n{r.Output}\n{Log(node)}");
    }

    /// <summary>The host dies: keepalived (children first) and the engine SIGKILLed, the gateway address removed.</summary>
    public void Kill(int node)
    {
        var r = Topology($"lab_kill_ha_node {Prefix} {node}");
        if (r.ExitCode != 0) throw new InvalidOperationException(r.Output);
        Retry.Until(() => !Alive(node), TimeSpan.FromSeconds(10), $"balancer {node}'s processes still alive after SIGKILL");
    }

    /// <summary>The engine alone, SIGKILLed; keepalived stays and learns it from <c>lb ha check</c>.</summary>
    public void KillEngine(int node)
    {
        var pid = int.Parse(File.ReadAllText(Path.Combine(Dir, $"lb{node}.pid")).Trim(), CultureInfo.InvariantCulture);
        Shell.Run("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)]);
        Retry.Until(() => !Directory.Exists($"/proc/{pid}"), TimeSpan.FromSeconds(10), "engine still alive after SIGKILL");
    }

    public void SetLinks(int node, bool up)
    {
        foreach (var dev in new[] { FrontInterface(node), BackInterface(node) })
            Lab.In(Namespace(node), $"ip link set {dev} {(up ? "up" : "down")}");
    }

    /// <summary>Anything left running in the balancer's namespace (a <c>lb ha check</c> keepalived started exits by itself).</summary>
    private bool Alive(int node) => ProcessesIn(node) > 0;

    private int ProcessesIn(int node) =>
        Shell.Run("ip", ["netns", "pids", Namespace(node)]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>Both balancers gone, links up, then both started (balancer 1 preempts with the higher priority); waits
    /// until balancer 1 is master, balancer 2 backup, and each has heard the other.</summary>
    public void Reset(bool sync = true, string? keyFile1 = null, string? keyFile2 = null)
    {
        foreach (var node in new[] { 1, 2 })
        {
            Topology($"lab_kill_ha_node {Prefix} {node}");
            SetLinks(node, up: true);
        }
        Retry.Until(() => ProcessesIn(1) == 0 && ProcessesIn(2) == 0, TimeSpan.FromSeconds(10), "balancers' processes still alive");
        foreach (var f in new[] { "lb1.log", "lb2.log", "keepalived1.log", "keepalived2.log" }) File.Delete(Path.Combine(Dir, f));
        Start(2, sync, keyFile2);
        Start(1, sync, keyFile1);
        Retry.Until(() => Role(1) == "master" && Role(2) == "backup" && (!sync || keyFile1 != keyFile2 || (Heard(1) && Heard(2))) && Usable(1) && Usable(2),
            TimeSpan.FromSeconds(30), "balancer 1 master and balancer 2 backup, in sync");
    }

    public JsonDocument? Status(int node)
    {
        var r = Shell.InNamespace(Namespace(node), ["dotnet", LabEnvironment.LbDll, "status", "--json", "--config", Config(node)], TimeSpan.FromSeconds(20));
        return r.ExitCode == 0 ? JsonDocument.Parse(r.Stdout) : null;
    }

    public string? Role(int node)
    {
        using var s = Status(node);
        return s?.RootElement.GetProperty("ha").GetProperty("role").GetString();
    }

    public JsonElement Sync(int node)
    {
        using var s = Status(node) ?? throw new InvalidOperationException($"balancer {node} not answering\n{Log(node)}");
        return s.RootElement.GetProperty("ha").GetProperty("sync").Clone();
    }

    private bool Heard(int node) => Sync(node).TryGetProperty("peer_role", out _);

    /// <summary>Every backend of both services healthy (health is decided shortly after an engine starts).</summary>
    private bool Usable(int node)
    {
        using var s = Status(node);
        return s is not null && s.RootElement.GetProperty("services").EnumerateArray()
            .All(svc => svc.GetProperty("backends").EnumerateArray().All(b => b.GetProperty("health").GetString() == "healthy"));
    }

    public CommandResult Lb(int node, string args) =>
        Shell.InNamespace(Namespace(node), ["bash", "-c", $"dotnet {Shell.Quote(LabEnvironment.LbDll)} {args} --config {Shell.Quote(Config(node))}"], TimeSpan.FromSeconds(20));

    public string Log(int node) =>
        string.Join("\n", new[] { $"lb{node}.log", $"keepalived{node}.log" }.Select(f => Path.Combine(Dir, f)).Where(File.Exists)
            .Select(f => $"--- {Path.GetFileName(f)}\n" + string.Join("\n", File.ReadAllLines(f).TakeLast(40))));

    public Func<(int Exit, string Sha)> Download(string vip, string name) => Lab.ThrottledDownload(vip, name);

    /// <summary>Time from <paramref name="failedAt"/> until a new connection to each VIP succeeds (tried in turn, each
    /// with a 0.5 s limit), bounded by <paramref name="limit"/>; null if they never both did.</summary>
    public TimeSpan? ServedAgain(Stopwatch failedAt, TimeSpan limit)
    {
        while (failedAt.Elapsed < limit)
        {
            var r = Lab.InClient($"curl -s --noproxy '*' --max-time 0.5 -o /dev/null -w '%{{http_code}}' http://{DrVip}/ && " +
                                 $"curl -s --noproxy '*' --max-time 0.5 -o /dev/null -w '%{{http_code}}' http://{NatVip}/", 10);
            if (r.ExitCode == 0 && r.Stdout.Trim() == "200200") return failedAt.Elapsed;
        }
        return null;
    }

    public void Dispose() => Lab.Dispose();
}

/// <summary>Bounded waits for a condition, polled every 200 ms: readiness checks, never fixed sleeps.</summary>
public static class Retry
{
    public static void Until(Func<bool> condition, TimeSpan limit, string what)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {limit.TotalSeconds} s: {what}");
            Thread.Sleep(200);
        }
    }
}
