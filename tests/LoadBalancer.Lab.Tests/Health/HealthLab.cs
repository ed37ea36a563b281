using System.Diagnostics;
using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Health;

/// <summary>A lab with the engine running a health-checked DR service "web" on :80. Each test builds its
/// own (they stop servers and change state), and disposing tears everything down.</summary>
public sealed class HealthLab : IDisposable
{
    private HealthLab(NamespaceLab lab, EngineProcess engine)
    {
        Lab = lab;
        Engine = engine;
    }

    public NamespaceLab Lab { get; }
    public EngineProcess Engine { get; }
    public string ConfigPath { get; private init; } = "";

    /// <param name="health">The service's health: mapping body, indented by 6 spaces per line.</param>
    /// <param name="serviceExtra">Extra service keys (e.g. "on_backend_down: keep").</param>
    /// <param name="backups">Server numbers (1-based) that are backups.</param>
    public static HealthLab Start(int servers, string health, string serviceExtra = "", int[]? backups = null, bool waitHealthy = true,
        bool externalChecker = false)
    {
        var lab = NamespaceLab.Up(servers);
        try
        {
            var backendsYaml = string.Join("", Enumerable.Range(1, servers).Select(i =>
                $"      - name: rs{i}\n        address: 10.99.1.{10 + i}\n" + (backups?.Contains(i) == true ? "        backup: true\n" : "")));
            var extra = string.Join("", serviceExtra.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => $"    {l.Trim()}\n"));
            var yaml = $"workers: 1\ncontrol_socket: {lab.Dir}/lb.sock\nservices:\n  - name: web\n    vip: {lab.Vip}\n    port: 80\n    protocol: tcp\n" +
                       $"    mode: dr\n    interface: {lab.BalancerIf}\n{extra}    health:\n" +
                       string.Join("", health.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => $"      {l.Trim()}\n")) +
                       $"    backends:\n{backendsYaml}";
            var path = Path.Combine(lab.Dir, "health.yaml");
            File.WriteAllText(path, yaml);
            var engine = EngineProcess.Start(lab, path, Path.Combine(lab.Dir, "lb.sock"), externalChecker ? "--no-health-checker" : "");
            var started = new HealthLab(lab, engine) { ConfigPath = path };
            if (waitHealthy)
            {
                var normal = Enumerable.Range(1, servers).Where(i => backups?.Contains(i) != true).Select(i => $"rs{i}");
                foreach (var name in normal)
                    started.WaitFor(() => started.Backend(name).GetProperty("health").GetString() == "healthy", TimeSpan.FromSeconds(20), $"{name} healthy");
            }
            return started;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    public JsonElement Backend(string name)
    {
        using var doc = Engine.Status();
        return doc.RootElement.GetProperty("services")[0].GetProperty("backends").EnumerateArray()
            .Single(b => b.GetProperty("name").GetString() == name).Clone();
    }

    public JsonElement Service()
    {
        using var doc = Engine.Status();
        return doc.RootElement.GetProperty("services")[0].Clone();
    }

    /// <summary>Polls until the condition holds; returns how long it took. Fails the test on timeout.</summary>
    public TimeSpan WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (condition()) return watch.Elapsed;
            Thread.Sleep(50);
        }
        throw new TimeoutException($"not within {timeout}: {what}\n{Engine.Log}");
    }

    /// <summary>N new connections from the client; the answering server's name per connection, or "FAILED".</summary>
    public string[] Connect(int count, int maxTimeSeconds = 2) => Lab.Connect(count, maxTimeSeconds);

    public void Server(int i, string action)
    {
        var r = NamespaceLab.Topology($"lab_set_env {Lab.Prefix} {Lab.ServerNames.Length}; lab_server_{action} {i}");
        if (r.ExitCode != 0) throw new InvalidOperationException($"lab_server_{action} {i}: {r.Output}");
    }

    /// <summary>True once nothing listens on server i's port 80 (checked from the client, on its own address).</summary>
    public bool ServerRefuses(int i) =>
        Lab.InClient($"curl -s --noproxy '*' --max-time 1 http://10.99.1.{10 + i}/ >/dev/null").ExitCode == 7;

    public Func<(int Exit, string Sha)> StartDownload(string name, string rate = "1500k", int maxTimeSeconds = 60) =>
        Lab.StartDownload(name, rate, maxTimeSeconds);

    /// <summary>The backend whose packet counter moves while nothing but the given download runs.</summary>
    public string BackendCarryingTraffic()
    {
        var before = Lab.ServerNames.ToDictionary(n => n, n => Backend(n).GetProperty("packets").GetInt64());
        string? moving = null;
        WaitFor(() =>
        {
            var now = Lab.ServerNames.ToDictionary(n => n, n => Backend(n).GetProperty("packets").GetInt64());
            moving = Lab.ServerNames.FirstOrDefault(n => now[n] - before[n] > 20);
            return moving is not null;
        }, TimeSpan.FromSeconds(10), "a backend carrying the download");
        return moving!;
    }

    public void Dispose()
    {
        Engine.Dispose();
        Lab.Dispose();
    }
}
