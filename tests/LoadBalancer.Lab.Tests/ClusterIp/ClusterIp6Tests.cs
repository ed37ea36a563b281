using System.Diagnostics;
using System.Globalization;
using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.ClusterIp;

/// <summary>CLUSTERIP6 end to end: the dual-stack CLUSTERIP lab, three nodes each running the engine (web, echo and web6
/// on [2001:db8::100]:80 behind the cluster MAC 33:33:00:00:01:00) and nginx on [::]:80, a client behind the router
/// speaking IPv6 with real curl. The router finds the VIP6 by neighbour discovery, as any router would.</summary>
public sealed class ClusterIp6Tests : IDisposable
{
    private const string ClusterMac6 = "33:33:00:00:01:00";
    private readonly NamespaceLab _lab;
    private readonly List<EngineProcess> _engines = new();
    private readonly ITestOutputHelper _output;
    private readonly Dictionary<string, ClusterTable> _tables = new();

    public ClusterIp6Tests(ITestOutputHelper output)
    {
        _output = output;
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

    private string Vip6 => _lab.Env["LAB_VIP6"];
    private string Client6 => _lab.Env["LAB_CLIENT_ADDR6"];

    /// <summary>Each engine's web6 view: its table digest and how many nodes it sees alive.</summary>
    private (string Digest, int Alive)[] Views(int[]? engines = null) => _engines.Where((_, i) => engines is null || engines.Contains(i + 1)).Select(e =>
    {
        using var doc = e.Status();
        var web6 = doc.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "web6");
        return (web6.GetProperty("digest").GetString()!, web6.GetProperty("nodes").EnumerateArray().Count(n => n.GetProperty("alive").GetBoolean()));
    }).ToArray();

    /// <summary>Polls until every engine in <paramref name="engines"/> reports for web6 the same table with that many
    /// nodes alive; how long that took.</summary>
    private TimeSpan WaitForAgreement(int aliveNodes, TimeSpan timeout, int[]? engines = null)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            var views = Views(engines);
            if (views.Select(v => v.Digest).Distinct().Count() == 1 && views.All(v => v.Alive == aliveNodes)) return watch.Elapsed;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"nodes did not agree on {aliveNodes} alive for web6: {string.Join(", ", Views(engines).Select(v => $"{v.Digest}/{v.Alive}"))}");
    }

    /// <summary>The node (1-based) owning the client's IPv6 flow from <paramref name="clientPort"/> in the table over
    /// <paramref name="alive"/>, computed here from the lab's config (seed 0x5eed, hash sourceip-sourceport).</summary>
    private int OwnerOf(int clientPort, params int[] alive)
    {
        // A table per set of live nodes, built once: a Maglev build per port would take seconds over a port search.
        var key = string.Join(',', alive);
        if (!_tables.TryGetValue(key, out var table))
        {
            var nodes = Enumerable.Range(1, 3).Select(id => new ClusterNodeConfig { Id = id, Address = System.Net.IPAddress.Parse($"2001:db8:1::{10 + id}") });
            _tables[key] = table = ClusterTable.Build(nodes, alive.Contains);
        }
        return table.OwnerOf(ClusterFlowHash.Compute6(ClusterHash.SourceIpSourcePort, Ipv6.Parse(Client6), (ushort)clientPort, 80, 0x5eed));
    }

    /// <summary>One IPv6 connection per client port from <paramref name="firstPort"/> on; the answering node per port
    /// (or FAILED).</summary>
    private string[] Connect6(int firstPort, int count) =>
        _lab.InClient($"for p in $(seq {firstPort} {firstPort + count - 1}); do " +
                      $"curl -6 -s --noproxy '*' --max-time 3 --local-port $p 'http://[{Vip6}]/' || echo FAILED; done", count * 5 + 10)
            .Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();

    /// <summary>Per node, how many requests its nginx logged from the client's IPv6 address and <paramref name="port"/>
    /// (the log format: remote address, remote port, connection, request).</summary>
    private int[] Served(int port) => Enumerable.Range(1, 3).Select(n =>
    {
        var log = Path.Combine(_lab.Dir, $"node{n}-access.log");
        var prefix = $"{Client6} {port.ToString(CultureInfo.InvariantCulture)} ";
        return File.Exists(log) ? File.ReadLines(log).Count(l => l.StartsWith(prefix, StringComparison.Ordinal)) : 0;
    }).ToArray();

    private int Established6() =>
        _lab.InClient($"ss -Htn state established dst '[{Vip6}]:80'").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    [LabFact]
    public void Ipv6_150Connections_AllSucceed_EachServedByExactlyTheOwningNode()
    {
        const int first = 44000, count = 150;
        var answers = Connect6(first, count);

        Assert.Equal(count, answers.Length);
        Assert.DoesNotContain("FAILED", answers);
        foreach (var node in _lab.ServerNames) Assert.Contains(node, answers);
        for (var i = 0; i < count; i++)
        {
            var port = first + i;
            var served = Served(port);
            // Exactly one node's nginx saw the connection (a second owner would have answered it too, or reset it),
            // and it is the one the ownership hash names, and the one whose name came back.
            Assert.True(served.Sum() == 1, $"port {port} in the logs of nodes [{string.Join(", ", served)}]");
            var owner = OwnerOf(port, 1, 2, 3);
            Assert.Equal(1, served[owner - 1]);
            Assert.Equal($"node{owner}", answers[i]);
        }
        _output.WriteLine($"{count} IPv6 connections: " + string.Join(", ", _lab.ServerNames.Select(n => $"{n} {answers.Count(a => a == n)}")));
        // Every node filtered every frame and accepted only its own.
        foreach (var e in _engines)
        {
            using var doc = e.Status();
            var web6 = doc.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "web6");
            Assert.True(web6.GetProperty("accepted").GetInt64() > 0 && web6.GetProperty("dropped").GetInt64() > 0, web6.ToString());
        }
    }

    [LabFact]
    public void Ipv6_EngineKilled_OthersTakeOverWithinFailover_SurvivorsDownloadsIntact()
    {
        // Downloads on nodes 1 and 2, by client ports they own with or without node 3; node 3's nginx keeps answering
        // its own address, so only the engine's heartbeat tells the peers it is gone.
        var survivors = Enumerable.Range(45000, 5000).Where(p => OwnerOf(p, 1, 2, 3) is 1 or 2 && OwnerOf(p, 1, 2) == OwnerOf(p, 1, 2, 3))
            .GroupBy(p => OwnerOf(p, 1, 2, 3)).SelectMany(g => g.Take(2)).ToArray();
        Assert.Equal(4, survivors.Length);
        var downloads = survivors.Select(p => _lab.StartDownload($"survivor6-{p}", localPort: p, vip: $"[{Vip6}]")).ToArray();
        var watch = Stopwatch.StartNew();
        while (Established6() < 4 && watch.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(50);
        Assert.True(Established6() >= 4, "downloads did not start");

        _engines[2].Stop(signal: "KILL");
        var failover = WaitForAgreement(aliveNodes: 2, TimeSpan.FromSeconds(15), engines: [1, 2]);
        // interval 1 s x fall 2 + timeout 0.5 s, plus a second of slack.
        Assert.True(failover < TimeSpan.FromSeconds(3.5), $"takeover took {failover.TotalSeconds:F2} s");
        _output.WriteLine($"web6 takeover seen by both survivors {failover.TotalSeconds:F2} s after SIGKILL");
        var node3 = _lab.In(_lab.RouterNs, "curl -6 -s --noproxy '*' --max-time 2 'http://[2001:db8:1::13]/'");
        Assert.Equal("node3", node3.Stdout.Trim());

        // Node 3's share is served by the others at once: ports it owned in the full table included.
        var after = Connect6(46000, 30);
        Assert.DoesNotContain("FAILED", after);
        Assert.DoesNotContain("node3", after);
        Assert.Contains(Enumerable.Range(46000, 30), p => OwnerOf(p, 1, 2, 3) == 3);
        var sha = _lab.Env["LAB_BIG_SHA256"];
        var started = watch.Elapsed;
        Assert.All(downloads.Select(d => d()), r => Assert.Equal((0, sha), r));
        _output.WriteLine($"downloads done {(watch.Elapsed - started).TotalSeconds:F1} s after the new connections, {watch.Elapsed.TotalSeconds:F1} s after they started");
    }

    [LabFact]
    public void Ipv6_NeighbourAdvertisementForVip6_CarriesTheClusterMac_FromANodesUnicastMac()
    {
        var nodeMacs = Enumerable.Range(1, 3).Select(n => _lab.In($"{_lab.Prefix}-n{n}", $"cat /sys/class/net/{_lab.Prefix}n{n}/address").Stdout.Trim()).ToArray();
        var pcap = Path.Combine(_lab.Dir, "nd6.pcap");
        CommandResult r;
        using (PacketCapture.Start(_lab.RouterNs, _lab.RouterLanIf, pcap, "icmp6"))
        {
            // Each round forgets the VIP6's neighbour entry and resolves it again by connecting to the VIP6 from the router.
            r = _lab.In(_lab.RouterNs, $"for i in 1 2 3; do ip -6 neigh flush dev {_lab.RouterLanIf}; " +
                                       $"curl -6 -s --noproxy '*' --max-time 3 -o /dev/null 'http://[{Vip6}]/'; ip -6 neigh show {Vip6} dev {_lab.RouterLanIf}; done", 30);
        }
        Assert.Contains($"lladdr {ClusterMac6}", r.Stdout);
        var answers = Shell.Run("tshark", ["-r", pcap, "-Y", $"icmpv6.type == 136 && icmpv6.nd.na.target_address == {Vip6}",
            "-T", "fields", "-e", "eth.src", "-e", "icmpv6.opt.linkaddr", "-e", "icmpv6.nd.na.flag.s"]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(answers.Length >= 3, $"expected an advertisement per round, saw {answers.Length}");
        Assert.All(answers, line =>
        {
            var f = line.Split('\t');
            // The option names the cluster MAC; the frame comes from one node's own unicast MAC (a bridge drops
            // frames from a multicast source).
            Assert.Equal(ClusterMac6, f[1]);
            Assert.Contains(f[0], nodeMacs);
            Assert.Equal(0, Convert.ToInt32(f[0][..2], 16) & 1);
        });
    }

    [LabFact]
    public void Tap_Ipv6Settings_AreTheEnginesOwn()
    {
        var r = _lab.In($"{_lab.Prefix}-n1", "cd /proc/sys/net/ipv6/conf/lbc* && for k in disable_ipv6 accept_dad router_solicitations accept_ra forwarding; do echo $k=$(cat $k); done");
        Assert.Equal(["disable_ipv6=0", "accept_dad=0", "router_solicitations=0", "accept_ra=0", "forwarding=0"],
            r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    public void Dispose()
    {
        foreach (var e in _engines) e.Dispose();
        _lab?.Dispose();
    }
}
