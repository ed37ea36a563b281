using System.Globalization;
using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.DirectRouting;

/// <summary><c>lb flow</c> and <c>lb flows</c> against the real engine (two workers, so the fanout matters) in a DR
/// lab: what they say is checked against the real servers' nginx access logs (<c>$remote_addr $remote_port ...</c>,
/// one per server in the lab's directory) and against where a new connection then goes.</summary>
public sealed class FlowLookupTests
{
    private const int Base = 42000;

    private static CommandResult Lb(params string[] args) =>
        Shell.Run("dotnet", new[] { LabEnvironment.LbDll }.Concat(args), TimeSpan.FromSeconds(30));

    private static JsonElement Flow(EngineProcess engine, string client)
    {
        var r = Lb("flow", "web", client, "--json", "--socket", engine.Socket);
        Assert.True(r.ExitCode == 0, $"lb flow web {client}: {r.Output}");
        return JsonDocument.Parse(r.Stdout).RootElement.Clone();
    }

    /// <summary>The server whose access log shows a request from <paramref name="client"/>:<paramref name="port"/>,
    /// waited for (nginx writes the line when the response is done); fails if more than one does.</summary>
    private static string ServedBy(NamespaceLab lab, string client, int port)
    {
        string[] servers = [];
        Retry.Until(() =>
        {
            servers = lab.ServerNames.Where(s => File.Exists(Path.Combine(lab.Dir, $"{s}-access.log")) &&
                File.ReadLines(Path.Combine(lab.Dir, $"{s}-access.log")).Any(l => l.StartsWith($"{client} {port} ", StringComparison.Ordinal))).ToArray();
            return servers.Length > 0;
        }, TimeSpan.FromSeconds(10), $"an access log line for {client}:{port}");
        return Assert.Single(servers);
    }

    private static string Curl(NamespaceLab lab, int port) =>
        lab.InClient($"curl -sS --noproxy '*' --max-time 3 --local-port {port} http://{lab.Vip}/ 2>&1 || echo FAILED", 15).Stdout.Trim();

    [LabFact]
    public void Flow_TwentyConnectedPorts_NameTheBackendThatServedThem_AndAnUnseenPortGetsThePredictedOne()
    {
        using var lab = NamespaceLab.Up(2);
        var config = lab.WriteDrConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace("workers: 1", "workers: 2", StringComparison.Ordinal));
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var client = lab.Env["LAB_CLIENT_ADDR"];

        // Four slow downloads keep their flows established while they are asked about; sixteen short requests leave
        // closing flows (30 s) behind.
        var downloads = Enumerable.Range(Base + 100, 4)
            .Select(p => (Port: p, Name: $"flow-{p}", Wait: lab.StartDownload($"flow-{p}", rate: "500k", localPort: p))).ToList();
        var answered = Enumerable.Range(Base, 16).ToDictionary(p => p, p => Curl(lab, p));
        NamespaceLab.WaitForBytes(lab, downloads.Select(d => d.Name));

        // The downloads first, while they last (10 MB at 500 kB/s: about 20 s).
        var text = Lb("flow", "web", $"{client}:{downloads[0].Port}", "--socket", engine.Socket);
        var listed = Lb("flows", "web", "--json", "--socket", engine.Socket);
        var flows = downloads.Select(d => d.Port).Concat(answered.Keys).ToDictionary(p => p, p => Flow(engine, $"{client}:{p}"));

        Assert.Empty(lab.Broken(downloads.Select(d => (d.Name, d.Wait))));
        Assert.All(answered, a => Assert.Contains(a.Value, lab.ServerNames));
        foreach (var (port, flow) in flows)
        {
            Assert.Equal("flow", flow.GetProperty("source").GetString());
            var servedBy = ServedBy(lab, client, port);
            Assert.True(servedBy == flow.GetProperty("backend").GetString(), $"port {port}: served by {servedBy}, lb flow says {flow}");
        }
        Assert.All(downloads, d => Assert.Equal("established", flows[d.Port].GetProperty("state").GetString()));
        Assert.Equal(0, listed.ExitCode);
        var rows = JsonDocument.Parse(listed.Stdout).RootElement.EnumerateArray()
            .ToDictionary(f => f.GetProperty("client").GetString()!, f => f.GetProperty("backend").GetString());
        Assert.All(flows, f => Assert.Equal(f.Value.GetProperty("backend").GetString(), rows[$"{client}:{f.Key}"]));
        Assert.Equal($"{flows[downloads[0].Port].GetProperty("backend").GetString()} (flow) worker {flows[downloads[0].Port].GetProperty("worker").GetInt32()}",
            text.Stdout.Split('\n')[0]);
        // Both workers hold some of them: the answer's worker is not a constant.
        Assert.Equal(2, flows.Values.Select(f => f.GetProperty("worker").GetInt32()).Distinct().Count());

        // Ports never seen: the predicted backend (and worker) is where the connection then lands.
        for (var port = Base + 200; port < Base + 204; port++)
        {
            var predicted = Flow(engine, $"{client}:{port}");
            Assert.Equal("maglev", predicted.GetProperty("source").GetString());

            var served = Curl(lab, port);
            var after = Flow(engine, $"{client}:{port}");

            Assert.True(predicted.GetProperty("backend").GetString() == served,
                $"port {port}: lb flow predicted {predicted}, the connection then got '{served}', lb flow now says {after}");
            Assert.Equal(served, ServedBy(lab, client, port));
            Assert.Equal("flow", after.GetProperty("source").GetString());
            Assert.Equal(predicted.GetProperty("worker").GetInt32(), after.GetProperty("worker").GetInt32());
        }

        var unknown = Lb("flow", "nope", $"{client}:1", "--socket", engine.Socket);
        Assert.Equal((1, "no service nope"), (unknown.ExitCode, unknown.Stderr.Trim()));
    }
}
