using System.Globalization;
using System.Text.Json;

namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>The ECMP lab (lab/lib/labs/ecmp.sh): three balancers, each with its engine and BIRD 2, behind a router
/// running BIRD with ECMP. Built once per test class; <see cref="Reset"/> restarts every engine with the given seeds.</summary>
public sealed class EcmpLab : IDisposable
{
    public const int Balancers = 3;

    public EcmpLab() => Lab = NamespaceLab.Up(3, "lab_up_ecmp");

    public NamespaceLab Lab { get; }
    public string Prefix => Lab.Prefix;
    public string Dir => Lab.Dir;
    public string Namespace(int node) => $"{Prefix}-b{node}";
    public string Config(int node) => Path.Combine(Dir, $"lb{node}.yaml");
    public static string Address(int node) => $"10.99.1.{1 + node}";

    public CommandResult Topology(string commands, int timeoutSeconds = 60) =>
        NamespaceLab.Topology($"lab_set_env {Prefix}; {commands}", TimeSpan.FromSeconds(timeoutSeconds));

    /// <summary>The router's next hops for the VIP, sorted.</summary>
    public string[] NextHops() =>
        Topology("lab_ecmp_next_hops").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();

    /// <summary>Balancer <paramref name="node"/>'s engine (and its BIRD, if not running yet), with a fresh config.</summary>
    public void Start(int node, string seed = "0x5eed")
    {
        File.Delete(Config(node));
        var r = Topology($"lab_start_ecmp_node {Prefix} {node} {seed}", 90);
        if (r.ExitCode != 0) throw new InvalidOperationException($"lab_start_ecmp_node {node} failed:\n{r.Output}");
    }

    /// <summary>SIGKILL to the engine alone; BIRD stays and sees the route go. Waits until the process is gone unless
    /// <paramref name="wait"/> is false.</summary>
    public void KillEngine(int node, bool wait = true)
    {
        var path = Path.Combine(Dir, $"lb{node}.pid");
        if (!File.Exists(path)) return;
        var pid = File.ReadAllText(path).Trim();
        Shell.Run("kill", ["-KILL", pid]);
        File.Delete(path);
        if (wait) Retry.Until(() => !Directory.Exists($"/proc/{pid}"), TimeSpan.FromSeconds(10), $"engine {node} gone");
    }

    /// <summary>Starts watching the router's route to the VIP (every 10 ms, up to about 10 s) and returns once the watch
    /// has seen <paramref name="nextHop"/> in it; the returned function waits and gives the moment it left (nothing if
    /// it never did).</summary>
    public Func<List<(DateTimeOffset At, string Value)>> RouterWatch(string nextHop)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in new[] { "netns", "exec", Lab.RouterNs, "bash", "-c",
                     $"ip route show {Lab.Vip}/32 | grep -q 'via {nextHop} ' && echo watching || exit 1; for i in $(seq 1000); do ip route show {Lab.Vip}/32 | grep -q 'via {nextHop} ' || {{ echo \"$(date +%s%3N) gone\"; exit 0; }}; sleep 0.01; done" })
            psi.ArgumentList.Add(a);
        var process = System.Diagnostics.Process.Start(psi)!;
        // Only once it has seen the next hop present does the caller go on to remove it.
        if (process.StandardOutput.ReadLine() != "watching") throw new InvalidOperationException($"{nextHop} is not a next hop of {Lab.Vip}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        return () =>
        {
            if (!process.WaitForExit(30_000)) process.Kill();
            process.WaitForExit();
            return stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', 2))
                .Select(p => (DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture)), p[1]))
                .ToList();
        };
    }

    /// <summary>Every engine killed and started again with <paramref name="seeds"/> (one per balancer; default the same
    /// seed everywhere); waits until the router has a next hop for each.</summary>
    public void Reset(params string[] seeds)
    {
        for (var node = 1; node <= Balancers; node++) KillEngine(node);
        for (var node = 1; node <= Balancers; node++) Start(node, seeds.Length >= node ? seeds[node - 1] : "0x5eed");
        Retry.Until(() => NextHops().Length == Balancers, TimeSpan.FromSeconds(30), "a next hop per balancer at the router");
    }

    public JsonDocument Status(int node)
    {
        var r = Shell.InNamespace(Namespace(node), ["dotnet", LabEnvironment.LbDll, "status", "--json", "--config", Config(node)], TimeSpan.FromSeconds(20));
        if (r.ExitCode != 0) throw new InvalidOperationException($"balancer {node}: {r.Output}");
        return JsonDocument.Parse(r.Stdout);
    }

    public JsonElement Service(int node)
    {
        using var s = Status(node);
        return s.RootElement.GetProperty("services")[0].Clone();
    }

    public Func<(int Exit, string Sha)> Download(string name) => Lab.ThrottledDownload(Lab.Vip, name);

    public void Dispose() => Lab.Dispose();
}
