using System.Diagnostics;
using System.Text.Json;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Forwarding.ClusterIp;
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
                _engines.Add(EngineProcess.StartIn(_lab, $"{_lab.Prefix}-n{n}", LabEnvironment.WithIo(_lab.WriteClusterConfig(n)), Path.Combine(_lab.Dir, $"lb-node{n}.sock")));
            WaitForAgreement(aliveNodes: 3, TimeSpan.FromSeconds(30));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Each engine's view: per service, the table digest and how many nodes it sees alive.</summary>
    private (string Digest, int Alive)[][] Views(int[]? engines = null) => _engines.Where((_, i) => engines is null || engines.Contains(i + 1)).Select(e =>
    {
        using var doc = e.Status();
        return doc.RootElement.GetProperty("services").EnumerateArray().Select(s =>
            (s.GetProperty("digest").GetString()!, s.GetProperty("nodes").EnumerateArray().Count(n => n.GetProperty("alive").GetBoolean()))).ToArray();
    }).ToArray();

    private static string Show((string Digest, int Alive)[][] views) =>
        string.Join(" | ", views.Select(v => string.Join(", ", v.Select(s => $"{s.Digest}/{s.Alive}"))));

    /// <summary>Polls until every running engine in <paramref name="engines"/> reports, for every service, the same
    /// table with that many nodes alive.</summary>
    private TimeSpan WaitForAgreement(int aliveNodes, TimeSpan timeout, int[]? engines = null)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            var views = Views(engines);
            var agreed = Enumerable.Range(0, views[0].Length).All(s =>
                views.Select(v => v[s].Digest).Distinct().Count() == 1 && views.All(v => v[s].Alive == aliveNodes));
            if (agreed) return watch.Elapsed;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"nodes did not agree on {aliveNodes} alive: {Show(Views(engines))}");
    }

    /// <summary>The node (1-based) that owns a client flow to the VIP in the table over <paramref name="alive"/>,
    /// computed here from the lab's config (seed 0x5eed, hash sourceip-sourceport), not asked of the engines.</summary>
    private int OwnerOf(int clientPort, params int[] alive)
    {
        var nodes = Enumerable.Range(1, 3).Select(id => new ClusterNodeConfig { Id = id, Address = System.Net.IPAddress.Parse($"10.99.1.{10 + id}") });
        var table = ClusterTable.Build(nodes, alive.Contains);
        var client = Ipv4.ToUInt32(System.Net.IPAddress.Parse(_lab.Env["LAB_CLIENT_ADDR"]));
        return table.OwnerOf(ClusterFlowHash.Compute(ClusterHash.SourceIpSourcePort, client, (ushort)clientPort, 80, 0x5eed));
    }

    /// <summary>Client ports, from <paramref name="from"/> up, whose flow <paramref name="node"/> owns in the full table
    /// and <paramref name="thenOwner"/> in the table without node 3.</summary>
    private int[] PortsOwnedBy(int node, int thenOwner, int count, int from) =>
        Enumerable.Range(from, 5000).Where(p => OwnerOf(p, 1, 2, 3) == node && OwnerOf(p, 1, 2) == thenOwner).Take(count).ToArray();

    private Func<(int Exit, string Sha)> Download(string name, int clientPort) => _lab.StartDownload(name, localPort: clientPort);

    private int Established() =>
        _lab.InClient($"ss -Htn state established dst {_lab.Vip}:80").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    [LabFact]
    public void TwoHundredConnections_AllSucceed_EveryNodeServes_EachByExactlyOneNode()
    {
        var digests = Views().Select(v => v[0].Digest).Distinct().ToArray();
        Assert.True(digests.Length == 1, $"digests {string.Join(' ', digests)}\n" +
            string.Join("\n", _engines.SelectMany(e => e.Log.Split('\n').Where(l => l.Contains("health", StringComparison.Ordinal)))));
        var pcap = Path.Combine(_lab.Dir, "cluster.pcap");
        string[] answers;
        using (PacketCapture.Start(_lab.ClientNs, _lab.Env["LAB_CLIENT_IF"], pcap, "tcp"))
            answers = _lab.Connect(200);

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
        // Long downloads are running on every node when node 3 is cut off (a pulled cable: its switch port goes
        // down). Their client ports are chosen so that two run on each node.
        var survivors = PortsOwnedBy(1, 1, 2, 41000).Concat(PortsOwnedBy(2, 2, 2, 41000)).ToArray();
        var onNode3 = PortsOwnedBy(3, 1, 1, 41000).Concat(PortsOwnedBy(3, 2, 1, 41000)).ToArray();
        var before = survivors.Select(p => Download($"before-{p}", p)).ToArray();
        var lost = onNode3.Select(p => Download($"on-node3-{p}", p)).ToArray();
        var watch = Stopwatch.StartNew();
        while (Established() < 6 && watch.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(50);
        Assert.True(Established() >= 6, "downloads did not start");
        Assert.Equal(0, _lab.In(_lab.Env["LAB_SWITCH_NS"], $"ip link set {_lab.Prefix}s3 down").ExitCode);
        var failover = WaitForAgreement(aliveNodes: 2, TimeSpan.FromSeconds(15), engines: [1, 2]);
        // interval 1 s x fall 2 + timeout 0.5 s, plus a second of slack.
        Assert.True(failover < TimeSpan.FromSeconds(3.5), $"takeover took {failover.TotalSeconds:F2} s");

        var during = _lab.Connect(30);
        Assert.DoesNotContain("FAILED", during);
        Assert.DoesNotContain("node3", during);

        // Node 3 returns while new downloads run on the others, in buckets that go back to node 3 when it does:
        // those flows stay with the node that accepted them.
        var returning = PortsOwnedBy(3, 1, 2, 42000).Concat(PortsOwnedBy(3, 2, 2, 42000)).ToArray();
        var meanwhile = returning.Select(p => Download($"meanwhile-{p}", p)).ToArray();
        // They must be in progress (established) when node 3 comes back: that is what must not break them.
        watch.Restart();
        while (Established() < 8 && watch.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(50);
        Assert.True(Established() >= 8, "downloads did not start");
        Assert.Equal(0, _lab.In(_lab.Env["LAB_SWITCH_NS"], $"ip link set {_lab.Prefix}s3 up").ExitCode);
        WaitForAgreement(aliveNodes: 3, TimeSpan.FromSeconds(15));
        Assert.Contains("node3", _lab.Connect(30));

        // Downloads on nodes 1 and 2 complete intact through node 3's departure and return.
        var sha = _lab.Env["LAB_BIG_SHA256"];
        Assert.All(before.Select(d => d()), r => Assert.Equal((0, sha), r));
        Assert.All(meanwhile.Select(d => d()), r => Assert.Equal((0, sha), r));
        foreach (var d in lost) d(); // on node 3 when it was cut: nothing is promised, only waited for
    }

    [LabFact]
    public void EngineKilled_ApplicationStillUp_OthersTakeOverWithinFailover_SurvivorsDownloadsIntact()
    {
        // Node 3's nginx keeps answering its own address: only the engine's heartbeat tells the peers it is gone.
        var survivors = PortsOwnedBy(1, 1, 1, 43000).Concat(PortsOwnedBy(2, 2, 1, 43000)).ToArray();
        var downloads = survivors.Select(p => Download($"survivor-{p}", p)).ToArray();
        var watch = Stopwatch.StartNew();
        while (Established() < 2 && watch.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(50);
        Assert.True(Established() >= 2, "downloads did not start");

        _engines[2].Stop(signal: "KILL");
        var failover = WaitForAgreement(aliveNodes: 2, TimeSpan.FromSeconds(15), engines: [1, 2]);
        Assert.True(failover < TimeSpan.FromSeconds(3.5), $"takeover took {failover.TotalSeconds:F2} s");
        var node3 = _lab.In(_lab.Env["LAB_ROUTER_NS"], "curl -s --noproxy '*' --max-time 2 http://10.99.1.13/");
        Assert.Equal("node3", node3.Stdout.Trim());

        var after = _lab.Connect(30);
        Assert.DoesNotContain("FAILED", after);
        Assert.DoesNotContain("node3", after);
        var sha = _lab.Env["LAB_BIG_SHA256"];
        Assert.All(downloads.Select(d => d()), r => Assert.Equal((0, sha), r));
    }

    /// <summary>UDP queries from the client: one per source port from <paramref name="firstPort"/>, each from its
    /// own socket; the answering node's name per query, or FAILED.</summary>
    private string[] Query(int firstPort, int count)
    {
        var result = _lab.InClient($"/usr/bin/python3 {LabEnvironment.RepositoryRoot}/lab/servers/udp_echo.py --query {_lab.Vip} " +
                                   $"--port 5353 --count {count} --source-port {firstPort} --payload q --timeout 1", count * 2 + 10);
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToArray();
    }

    /// <summary>How many datagrams from the client's port each node's UDP echo logged.</summary>
    private int[] Served(int clientPort) => Enumerable.Range(1, 3).Select(n =>
    {
        var log = Path.Combine(_lab.Dir, $"node{n}-udp.log");
        var needle = $" {_lab.Env["LAB_CLIENT_ADDR"]}:{clientPort} ";
        return File.Exists(log) ? File.ReadLines(log).Count(l => l.Contains(needle, StringComparison.Ordinal)) : 0;
    }).ToArray();

    private void WaitForUdpSettled(TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        int[] held = [];
        while (watch.Elapsed < timeout)
        {
            held = _engines.Select(e =>
            {
                using var doc = e.Status();
                var echo = doc.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "echo");
                return echo.GetProperty("transition").GetProperty("udp_held_buckets").GetInt32();
            }).ToArray();
            if (held.All(h => h == 0)) return;
            Thread.Sleep(200);
        }
        throw new TimeoutException($"UDP buckets still held: {string.Join(", ", held)}");
    }

    [LabFact]
    public void Udp_EachFlowAnsweredByExactlyOneNode_DeadNodesShareTakenAtOnce_SurvivorsKeepTheirFlows()
    {
        // After start every node holds back UDP in its buckets for the UDP timeout (10 s in the lab's config):
        // as far as it knows, the others served them without it.
        WaitForUdpSettled(TimeSpan.FromSeconds(30));
        var first = Query(30000, 90);
        Assert.Equal(90, first.Length);
        Assert.DoesNotContain("FAILED", first);
        foreach (var node in _lab.ServerNames) Assert.Contains(node, first);
        for (var i = 0; i < 90; i++) Assert.Equal(1, Served(30000 + i).Sum());

        // Node 3 cut off: the survivors take its UDP buckets as soon as they see it dead (its flows died with it).
        Assert.Equal(0, _lab.In(_lab.Env["LAB_SWITCH_NS"], $"ip link set {_lab.Prefix}s3 down").ExitCode);
        WaitForAgreement(aliveNodes: 2, TimeSpan.FromSeconds(15), engines: [1, 2]);
        var fresh = Query(31000, 60);
        Assert.All(fresh, answer => Assert.True(answer is "node1" or "node2", answer));
        // The flows of the first round again: the survivors' own ones stay where they were, node 3's move.
        var again = Query(30000, 90);
        for (var i = 0; i < 90; i++)
            Assert.Equal(first[i] == "node3" ? again[i] : first[i], again[i]);
        Assert.All(again, answer => Assert.True(answer is "node1" or "node2", answer));
    }

    public void Dispose()
    {
        foreach (var e in _engines) e.Dispose();
        _lab?.Dispose();
    }
}
