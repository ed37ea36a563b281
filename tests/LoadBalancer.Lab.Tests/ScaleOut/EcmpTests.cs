using System.Diagnostics;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.ScaleOut;

/// <summary>Three balancers (same config and seed, DR, <c>arp: false</c>, <c>announce: true</c>) each announcing the
/// VIP by BIRD 2 to a router that spreads flows over them by ECMP on the 5-tuple: every balancer builds the same
/// Maglev table, so a flow the router moves to another balancer keeps its backend.</summary>
public sealed class EcmpTests(EcmpLab ecmp, ITestOutputHelper output) : IClassFixture<EcmpLab>
{
    private const int Downloads = 12;

    [LabFact]
    public void AllUp_ThreeNextHops_ConnectionsSpreadOverEveryBalancerAndBackend_SameDigestEverywhere()
    {
        ecmp.Reset();
        Assert.Equal([EcmpLab.Address(1), EcmpLab.Address(2), EcmpLab.Address(3)], ecmp.NextHops());
        var flowsBefore = Enumerable.Range(1, 3).Select(n => ecmp.Service(n).GetProperty("flows").GetInt64()).ToArray();

        var answers = ecmp.Lab.Connect(300);

        Assert.DoesNotContain("FAILED", answers);
        foreach (var server in ecmp.Lab.ServerNames) Assert.Contains(server, answers);
        var shares = new List<string>();
        for (var node = 1; node <= EcmpLab.Balancers; node++)
        {
            var service = ecmp.Service(node);
            var flows = service.GetProperty("flows").GetInt64() - flowsBefore[node - 1];
            shares.Add($"balancer {node}: {flows}");
            Assert.True(flows > 0, $"balancer {node} carried no flow");
            Assert.True(service.GetProperty("announced").GetBoolean());
        }
        output.WriteLine("flows per balancer over 300 connections: " + string.Join(", ", shares));
        File.AppendAllText("/tmp/lb-ecmp-results.txt", $"{DateTime.UtcNow:O} shares {string.Join(" ", shares.Select(s => s.Split(": ")[1]))}\n");
        Assert.Single(Enumerable.Range(1, 3).Select(n => ecmp.Service(n).GetProperty("table_digest").GetString()).Distinct());
    }

    [LabFact]
    public void BackendsDownInOneBalancersView_ItsRouteIsWithdrawn_AndReturnsWithThem()
    {
        ecmp.Reset();
        // Balancer 1's health checks toward the servers are dropped on their way out (forwarded frames leave by the
        // packet socket, which no output hook sees): in its view every backend goes down, in the others' none does.
        var block = ecmp.Lab.In(ecmp.Namespace(1),
            "nft add table inet lbtest && nft add chain inet lbtest out '{ type filter hook output priority 0; }' && nft add rule inet lbtest out tcp dport 80 drop");
        Assert.True(block.ExitCode == 0, block.Output);
        var clock = Stopwatch.StartNew();
        Retry.Until(() => ecmp.NextHops().Length == 2, TimeSpan.FromSeconds(10), "balancer 1 withdrawn");
        output.WriteLine($"withdrawn {clock.Elapsed.TotalSeconds:F2} s after its checks were blocked (fall 2 at 500 ms, timeout 400 ms)");
        Assert.DoesNotContain(EcmpLab.Address(1), ecmp.NextHops());
        Assert.False(ecmp.Service(1).GetProperty("announced").GetBoolean());
        Assert.DoesNotContain("FAILED", ecmp.Lab.Connect(30));

        Assert.Equal(0, ecmp.Lab.In(ecmp.Namespace(1), "nft delete table inet lbtest").ExitCode);
        Retry.Until(() => ecmp.NextHops().Length == 3, TimeSpan.FromSeconds(10), "balancer 1 announced again");
    }

    [LabFact]
    public void OneBalancerSigkilled_RouteGoneWithin3s_DownloadsSurvive_ThenItReturns()
    {
        ecmp.Reset();
        var downloads = Enumerable.Range(0, Downloads).Select(i => (Name: $"ecmp-{i}", Wait: ecmp.Download($"ecmp-{i}"))).ToList();
        WaitForBytes(downloads.Select(d => d.Name));

        // The router's view, polled every 10 ms in its own namespace from before the kill: when balancer 2's next hop goes.
        var watch = ecmp.RouterWatch(EcmpLab.Address(2));
        var killedAt = DateTimeOffset.UtcNow;
        ecmp.KillEngine(2, wait: false);
        // Connections started at once, nine from distinct ports: until the route goes the router sends about a third of
        // them to the dead balancer, whose SYN is lost; those must succeed within one SYN retry (1 s) or two.
        var inGap = ecmp.Lab.InClientBackground("for i in $(seq 9); do echo \"$(date +%s%3N) $(curl -s --noproxy '*' --max-time 4 -o /dev/null " +
                                                $"-w '%{{http_code}}/%{{time_total}}' http://{ecmp.Lab.Vip}/)\" & done; wait");
        var gone = Assert.Single(watch()).At;
        var gap = gone - killedAt;
        output.WriteLine($"route withdrawn at the router {gap.TotalSeconds:F3} s after SIGKILL");
        File.AppendAllText("/tmp/lb-ecmp-results.txt", $"{DateTime.UtcNow:O} withdrawal {gap.TotalSeconds:F3}\n");
        Assert.True(gap < TimeSpan.FromSeconds(3), $"withdrawal took {gap}");
        var started = inGap().Select(l => l.Value.Split('/')).ToList();
        Assert.Equal(9, started.Count);
        Assert.All(started, r => Assert.Equal("200", r[0]));
        var slowest = started.Max(r => double.Parse(r[1], System.Globalization.CultureInfo.InvariantCulture));
        output.WriteLine($"nine connections started at the SIGKILL: all HTTP 200, the slowest after {slowest:F2} s");
        File.AppendAllText("/tmp/lb-ecmp-results.txt", $"{DateTime.UtcNow:O} slowest-gap-connection {slowest:F3}\n");
        Assert.True(slowest < 4, $"a connection started in the gap took {slowest} s");
        Assert.DoesNotContain("FAILED", ecmp.Lab.Connect(30));

        ecmp.Start(2);
        Retry.Until(() => ecmp.NextHops().Length == 3, TimeSpan.FromSeconds(20), "balancer 2 announced again");
        // New flows move back to it.
        Assert.DoesNotContain("FAILED", ecmp.Lab.Connect(30));
        Assert.True(ecmp.Service(2).GetProperty("flows").GetInt64() > 0, "the restarted balancer got no new flow");
        var broken = Finish(downloads);
        Assert.True(broken.Count == 0, $"broken downloads: {string.Join(", ", broken)}");
    }

    [LabFact]
    public void PerBalancerSeeds_DigestsDiffer_AndDownloadsBreakWhenFlowsMove()
    {
        ecmp.Reset("0x1111", "0x2222", "0x3333");
        Assert.Equal(3, Enumerable.Range(1, 3).Select(n => ecmp.Service(n).GetProperty("table_digest").GetString()).Distinct().Count());
        var downloads = Enumerable.Range(0, Downloads).Select(i => (Name: $"seeds-{i}", Wait: ecmp.Download($"seeds-{i}"))).ToList();
        WaitForBytes(downloads.Select(d => d.Name));
        ecmp.KillEngine(2);
        Retry.Until(() => ecmp.NextHops().Length == 2, TimeSpan.FromSeconds(5), "balancer 2's route withdrawn");
        var broken = Finish(downloads);
        output.WriteLine($"with a seed per balancer, {broken.Count} of {Downloads} downloads broke when balancer 2 died");
        File.AppendAllText("/tmp/lb-ecmp-results.txt", $"{DateTime.UtcNow:O} per-balancer-seeds broken {broken.Count}\n");
    }

    private void WaitForBytes(IEnumerable<string> names) => NamespaceLab.WaitForBytes(ecmp.Lab, names);

    private List<string> Finish(IEnumerable<(string Name, Func<(int Exit, string Sha)> Wait)> downloads) => ecmp.Lab.Broken(downloads);
}
