using System.Diagnostics;
using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.ClusterIp;

/// <summary>CLUSTERIP with three nodes on one bridge, each running the engine and nginx on the VIP, and a
/// client behind the router: no balancer at all.</summary>
public sealed class ClusterIpTests : IDisposable
{
    private readonly NamespaceLab _lab;
    private readonly List<EngineProcess> _engines = new();

    public ClusterIpTests()
    {
        if (LabEnvironment.WhyNotRunnable() is not null)
        {
            _lab = null!;
            return;
        }
        _lab = NamespaceLab.UpCluster(3);
        try
        {
            for (var n = 1; n <= 3; n++)
                _engines.Add(EngineProcess.StartIn(_lab, $"{_lab.Prefix}-n{n}", _lab.WriteClusterConfig(n), Path.Combine(_lab.Dir, $"lb-node{n}.sock")));
            WaitForAgreement(aliveNodes: 3, TimeSpan.FromSeconds(30));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private (string Digest, int Alive)[] Views() => _engines.Select(e =>
    {
        using var doc = e.Status();
        var s = doc.RootElement.GetProperty("services")[0];
        return (s.GetProperty("digest").GetString()!, s.GetProperty("nodes").EnumerateArray().Count(n => n.GetProperty("alive").GetBoolean()));
    }).ToArray();

    /// <summary>Polls until every running engine in <paramref name="engines"/> reports the same table with that many nodes alive.</summary>
    private TimeSpan WaitForAgreement(int aliveNodes, TimeSpan timeout, int[]? engines = null)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            var views = Views().Where((_, i) => engines is null || engines.Contains(i + 1)).ToArray();
            if (views.Select(v => v.Digest).Distinct().Count() == 1 && views.All(v => v.Alive == aliveNodes)) return watch.Elapsed;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"nodes did not agree on {aliveNodes} alive: {string.Join(", ", Views())}");
    }

    private string[] Connect(int count) =>
        _lab.InClient($"for i in $(seq {count}); do curl -s --noproxy '*' --max-time 3 http://{_lab.Vip}/ || echo FAILED; done", count * 5 + 10)
            .Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private Func<(int Exit, string Sha)> Download(string name) => _lab.StartDownload(name);

    private int Established() =>
        _lab.InClient($"ss -Htn state established dst {_lab.Vip}:80").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    [LabFact]
    public void TwoHundredConnections_AllSucceed_EveryNodeServes_EachByExactlyOneNode()
    {
        var digests = Views().Select(v => v.Digest).Distinct().ToArray();
        Assert.True(digests.Length == 1, $"digests {string.Join(' ', digests)}\n" +
            string.Join("\n", _engines.SelectMany(e => e.Log.Split('\n').Where(l => l.Contains("health", StringComparison.Ordinal)))));
        var pcap = Path.Combine(_lab.Dir, "cluster.pcap");
        string[] answers;
        using (PacketCapture.Start(_lab.ClientNs, _lab.Env["LAB_CLIENT_IF"], pcap, "tcp"))
            answers = Connect(200);

        Assert.Equal(200, answers.Length);
        Assert.DoesNotContain("FAILED", answers);
        foreach (var node in _lab.ServerNames) Assert.Contains(node, answers);
        // No RST from a non-owner, and one SYN-ACK per connection (a second owner would answer twice).
        var resets = Shell.Run("tshark", ["-r", pcap, "-Y", "tcp.flags.reset == 1", "-T", "fields", "-e", "frame.number"]).Stdout.Trim();
        Assert.Equal("", resets);
        var synAcks = Shell.Run("tshark", ["-r", pcap, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 1", "-T", "fields", "-e", "tcp.dstport"]).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(200, synAcks.Length);
        Assert.Equal(200, synAcks.Distinct().Count());
    }

    [LabFact]
    public void NodeCutOff_OthersTakeOverWithinFailover_DownloadsOnSurvivorsSurviveItsDepartureAndReturn()
    {
        // Long downloads are running when node 3 is cut off (a pulled cable: its switch port goes down).
        var before = Enumerable.Range(0, 4).Select(i => Download($"before-{i}.bin")).ToArray();
        Thread.Sleep(300); // let them start: this only staggers the load, nothing waits on it
        Assert.Equal(0, _lab.In(_lab.Env["LAB_SWITCH_NS"], $"ip link set {_lab.Prefix}s3 down").ExitCode);
        var failover = WaitForAgreement(aliveNodes: 2, TimeSpan.FromSeconds(15), engines: [1, 2]);
        // interval 1 s x fall 2 + timeout 0.5 s, plus a second of slack.
        Assert.True(failover < TimeSpan.FromSeconds(3.5), $"takeover took {failover.TotalSeconds:F2} s");

        var during = Connect(30);
        Assert.DoesNotContain("FAILED", during);
        Assert.DoesNotContain("node3", during);

        // Node 3 returns while new downloads run on the others.
        var meanwhile = Enumerable.Range(0, 4).Select(i => Download($"meanwhile-{i}.bin")).ToArray();
        // They must be in progress (established) when node 3 comes back: that is what must not break them.
        var watch = Stopwatch.StartNew();
        while (Established() < 4 && watch.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(50);
        Assert.True(Established() >= 4, "downloads did not start");
        Assert.Equal(0, _lab.In(_lab.Env["LAB_SWITCH_NS"], $"ip link set {_lab.Prefix}s3 up").ExitCode);
        WaitForAgreement(aliveNodes: 3, TimeSpan.FromSeconds(15));
        Assert.Contains("node3", Connect(30));

        // Downloads that were on nodes 1 and 2 complete intact; any that were on node 3 when it was cut may not.
        var results = before.Select(d => d()).Concat(meanwhile.Select(d => d())).ToArray();
        var intact = results.Count(r => r.Exit == 0 && r.Sha == _lab.Env["LAB_BIG_SHA256"]);
        var meanwhileResults = results[4..];
        Assert.All(meanwhileResults, r => Assert.Equal(_lab.Env["LAB_BIG_SHA256"], r.Sha));
        Assert.True(intact >= 4 + results[..4].Count(r => r.Sha == _lab.Env["LAB_BIG_SHA256"]) - 0);
    }

    public void Dispose()
    {
        foreach (var e in _engines) e.Dispose();
        _lab?.Dispose();
    }
}
