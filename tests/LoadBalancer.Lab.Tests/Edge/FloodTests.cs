using System.Diagnostics;
using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.Edge;

/// <summary>Floods from random sources (hping3, from the router's namespace, at the balancer's VIP only; bounded to
/// 15 s and a packet count) against a table of 65,536 entries: what was there before survives, new clients still get
/// in, memory stays put, and the status says what the flood did.
/// The SYN timeout is 30 s here, so the table's exhaustion rate (size / SYN timeout) is 2,185 new flows per second:
/// one hping3 at its fastest paced rate (-i u1, about 15-16 k SYN/s on this machine, measured loss-free: no ring
/// drops) is 7 times that. Unpaced (--flood, about 78 k/s) it overruns the receive ring, which is the machine's
/// limit, not the engine's table.</summary>
public sealed class FloodTests
{
    private const int TableSize = 65536;
    private const int FloodSeconds = 15;

    /// <summary>hping3 in the router's namespace at the VIP, for <see cref="FloodSeconds"/> at most; the returned function
    /// waits for it and gives how many packets it sent.</summary>
    private static Func<long> Flood(NamespaceLab lab, string flags, int port = 80)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", lab.RouterNs, "timeout", "-s", "INT", FloodSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "hping3", "-q", flags, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--rand-source", "-i", "u1", "-c", "600000", lab.Vip })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        return () =>
        {
            if (!process.WaitForExit((FloodSeconds + 15) * 1000)) process.Kill();
            process.WaitForExit();
            // "N packets transmitted, ..." (hping3 prints its statistics on stderr or stdout depending on version).
            var text = stdout.Result + stderr.Result;
            var line = text.Split('\n').FirstOrDefault(l => l.Contains("packets transmitted", StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"hping3 printed no statistics: {text}");
            return long.Parse(line.Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        };
    }

    /// <summary>New connections during the flood, one every 300 ms: how many of <paramref name="count"/> got their page.</summary>
    private static int ConnectDuring(NamespaceLab lab, int count)
    {
        var r = lab.InClient($"for i in $(seq 1 {count}); do curl -s --noproxy '*' -o /dev/null -w '%{{http_code}}\\n' --max-time 3 http://{lab.Vip}/; sleep 0.3; done", 120);
        return r.Stdout.Split('\n').Count(l => l.Trim() == "200");
    }

    private static (long Entries, long Evictions) Table(JsonDocument status, string table)
    {
        var t = status.RootElement.GetProperty("tables").EnumerateArray().Single(e => e.GetProperty("table").GetString() == table);
        Assert.Equal(TableSize, t.GetProperty("capacity").GetInt64());
        return (t.GetProperty("entries").GetInt64(), t.GetProperty("evictions").GetInt64());
    }

    private static void SurvivesSynFlood(NamespaceLab lab, string config, string table, ITestOutputHelper output)
    {
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        Assert.DoesNotContain("FAILED", lab.Connect(5));
        var peakBefore = engine.PeakMemoryBytes();
        var download = lab.ThrottledDownload(lab.Vip, "before");
        NamespaceLab.WaitForBytes(lab, ["before"]);

        var flood = Flood(lab, "-S");
        var succeeded = ConnectDuring(lab, 40);
        var sent = flood();
        var (exit, sha) = download();

        using var status = engine.Status();
        var (entries, evictions) = Table(status, table);
        var peakAfter = engine.PeakMemoryBytes();
        var ringDrops = status.RootElement.GetProperty("frames").GetProperty("ring_drops").GetInt64();
        output.WriteLine($"{table}: flood {sent} SYN in {FloodSeconds} s ({sent / FloodSeconds} /s, {sent / FloodSeconds / (TableSize / 30.0):F1}x exhaustion); " +
                         $"{succeeded}/40 new connections; entries {entries}, evictions {evictions}; ring drops {ringDrops}; " +
                         $"peak memory {peakBefore / 1048576.0:F1} -> {peakAfter / 1048576.0:F1} MiB");

        Assert.True(sent / FloodSeconds >= 4 * TableSize / 30, $"the flood reached only {sent / FloodSeconds} SYN/s");
        Assert.Equal(0, exit);
        Assert.Equal(lab.Env["LAB_BIG_SHA256"], sha);
        Assert.True(succeeded >= 38, $"{succeeded} of 40 new connections during the flood");
        Assert.True(evictions > 0, $"no evictions in the {table} table: {status.RootElement.GetProperty("tables")}");
        Assert.True(peakAfter <= peakBefore + 256L * TableSize + 64L * 1024 * 1024, $"peak memory {peakBefore} -> {peakAfter}");
        Assert.False(engine.HasExited);
    }

    [LabFact]
    public void Nat_RandomSourceSynFlood_OldDownloadCompletesNewClientsGetIn()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = lab.WriteNatConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace("workers: 1\n", $"workers: 1\nsession_table_size: {TableSize}\n")
            .Replace("    gateway: 10.99.1.1\n", "    gateway: 10.99.1.1\n    timeouts: {tcp_syn: 30s}\n"));
        SurvivesSynFlood(lab, config, "sessions", _output);
    }

    [LabFact]
    public void Dr_RandomSourceSynFlood_OldDownloadCompletesNewClientsGetIn()
    {
        using var lab = NamespaceLab.Up(2);
        var config = lab.WriteDrConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace("workers: 1\n", $"workers: 1\nflow_table_size: {TableSize}\nflow_timeouts: {{tcp_syn: 30s}}\n"));
        SurvivesSynFlood(lab, config, "flows", _output);
    }

    /// <summary>An ACK flood from random sources against DR: each unknown flow is remembered only as embryonic, so an
    /// idle connection whose backend was drained before the flood (only the flow table keeps it on that backend; Maglev
    /// would now send it elsewhere, which would answer with a reset) still works after 10 s of silence in the flood.</summary>
    [LabFact]
    public void Dr_RandomSourceAckFlood_IdleConnectionOfADrainedBackendSurvives()
    {
        using var lab = NamespaceLab.Up(2);
        var config = lab.WriteDrConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace("workers: 1\n", $"workers: 1\nflow_table_size: {TableSize}\nflow_timeouts: {{tcp_syn: 30s}}\n"));
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        // One keep-alive connection: a request, then silence until told to go on, then a second request on it. Its
        // lines go to a file, read while it runs.
        var go = Path.Combine(lab.Dir, "go");
        var log = Path.Combine(lab.Dir, "keepalive.log");
        File.WriteAllText(Path.Combine(lab.Dir, "keepalive.py"), $$"""
            import os, socket, time
            s = socket.create_connection(("{{lab.Vip}}", 80), timeout=5)
            def get():
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while True:
                    if b"\r\n\r\n" in data:
                        head, body = data.split(b"\r\n\r\n", 1)
                        length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1]
                        if len(body) >= int(length): return body.decode().strip()
                    chunk = s.recv(4096)
                    if not chunk: raise ConnectionError("closed")
                    data += chunk
            out = open("{{log}}", "a", buffering=1)
            out.write("first " + get() + "\n")
            while not os.path.exists("{{go}}"): time.sleep(0.1)
            try:
                out.write("second " + get() + "\n")
            except Exception as e:
                out.write("broken " + type(e).__name__ + "\n")
            """);
        var client = lab.InClientBackground($"/usr/bin/python3 {lab.Dir}/keepalive.py");
        string[] Lines() => File.Exists(log) ? File.ReadAllLines(log) : [];
        Retry.Until(() => Lines().Any(l => l.StartsWith("first", StringComparison.Ordinal)), TimeSpan.FromSeconds(15), "the first request answered");
        var backend = Lines().Single(l => l.StartsWith("first", StringComparison.Ordinal)).Split(' ')[1];
        var drain = Shell.Run("dotnet", [LabEnvironment.LbDll, "backend", "drain", "web", backend, "--socket", engine.Socket], TimeSpan.FromSeconds(20));
        Assert.True(drain.ExitCode == 0, drain.Output);

        var flood = Flood(lab, "-A");
        var sent = flood();
        File.WriteAllText(go, "");
        Retry.Until(() => Lines().Length >= 2, TimeSpan.FromSeconds(15), "the second request answered");
        client();

        using var status = engine.Status();
        var (entries, evictions) = Table(status, "flows");
        _output.WriteLine($"ACK flood {sent} in {FloodSeconds} s ({sent / FloodSeconds} /s); flows {entries}, evictions {evictions}");
        Assert.Equal($"second {backend}", Lines()[1]);
        Assert.True(sent / FloodSeconds >= 4 * TableSize / 30, $"the flood reached only {sent / FloodSeconds} ACK/s");
        Assert.True(evictions > 0, "the flood did not fill the table");
    }

    private readonly ITestOutputHelper _output;

    public FloodTests(ITestOutputHelper output) => _output = output;
}
