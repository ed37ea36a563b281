using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.DirectRouting;

/// <summary>DR6 end to end: the DR lab is dual stack, and its engine serves web6 on [2001:db8::100]:80 beside the
/// IPv4 services on the same interface; real nginx on the servers' IPv6 addresses (VIP6/128 on lo by
/// <c>lb realserver setup</c>), real curl -6 from the client, replies straight from the servers to the router.</summary>
public sealed class DirectRouting6Tests(DirectRoutingLab fixture) : IClassFixture<DirectRoutingLab>
{
    private NamespaceLab Lab => fixture.Lab;
    private string Vip6 => Lab.Env["LAB_VIP6"];

    private string[] Connect6(int count) =>
        Lab.InClient($"for i in $(seq {count}); do curl -6 -s --noproxy '*' --max-time 3 'http://[{Vip6}]/' || echo FAILED; done", count * 5 + 10)
            .Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();

    [LabFact]
    public void Ipv6_ThousandConnections_AllSucceed_SpreadByWeight()
    {
        var answers = Connect6(1000);

        Assert.Equal(1000, answers.Length);
        Assert.DoesNotContain("FAILED", answers);
        Assert.All(answers, a => Assert.Contains(a, Lab.ServerNames));
        // Equal weights: each of the two servers within 6 points of 50 %.
        foreach (var server in Lab.ServerNames)
        {
            var share = answers.Count(a => a == server) * 100.0 / answers.Length;
            Assert.InRange(share, 100.0 / Lab.ServerNames.Length - 6, 100.0 / Lab.ServerNames.Length + 6);
        }
    }

    [LabFact]
    public void Ipv6_Connection_SeveralRequests_StayOnOneBackend()
    {
        var url = $"'http://[{Vip6}]/'";
        var r = Lab.InClient($"for i in $(seq 20); do curl -6 -s --noproxy '*' --max-time 3 {url} {url} {url} {url}; echo END; done", 200);
        var connections = r.Stdout.Split("END", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Where(lines => lines.Length > 0).ToArray();
        Assert.Equal(20, connections.Length);
        Assert.All(connections, lines =>
        {
            Assert.Equal(4, lines.Length);
            Assert.Single(lines.Distinct());
            Assert.Contains(lines[0], Lab.ServerNames);
        });
    }

    [LabFact]
    public void Ipv6_Replies_GoStraightToClient_BalancerSeesOnlyClientToVip()
    {
        var pcap = Path.Combine(Lab.Dir, "balancer6.pcap");
        using (PacketCapture.Start(Lab.BalancerNs, Lab.BalancerIf, pcap, "ip6 and tcp"))
        {
            var r = Lab.InClient($"for i in $(seq 10); do curl -6 -s --noproxy '*' --max-time 10 'http://[{Vip6}]/big' | sha256sum; done", 200);
            var sums = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToArray();
            Assert.Equal(10, sums.Length);
            Assert.All(sums, s => Assert.Equal(Lab.Env["LAB_BIG_SHA256"], s));
        }
        Assert.Equal(0, Tshark(pcap, $"ipv6.src=={Vip6}"));
        var toVip = Tshark(pcap, $"ipv6.dst=={Vip6}");
        Assert.True(toVip > 50, $"expected the client-to-VIP frames in the capture, saw {toVip}");
    }

    [LabFact]
    public void Ipv6_NeighbourSolicitationForVip_AnsweredByBalancerOnly()
    {
        var balancerMac = Lab.In(Lab.BalancerNs, $"cat /sys/class/net/{Lab.BalancerIf}/address").Stdout.Trim();
        var pcap = Path.Combine(Lab.Dir, "nd6.pcap");
        using (PacketCapture.Start(Lab.RouterNs, Lab.RouterLanIf, pcap, "icmp6"))
        {
            // Each round forgets the VIP6's neighbour entry and resolves it again, by connecting to the VIP from the router.
            var r = Lab.In(Lab.RouterNs, $"for i in 1 2 3; do ip -6 neigh flush dev {Lab.RouterLanIf}; curl -6 -s --noproxy '*' --max-time 3 -o /dev/null 'http://[{Vip6}]/'; " +
                                         $"ip -6 neigh show {Vip6} dev {Lab.RouterLanIf}; done", 30);
            Assert.Contains($"lladdr {balancerMac}", r.Stdout);
        }
        var answers = Shell.Run("tshark", ["-r", pcap, "-Y", $"icmpv6.type == 136 && icmpv6.nd.na.target_address == {Vip6}",
            "-T", "fields", "-e", "eth.src", "-e", "icmpv6.opt.linkaddr"]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(answers.Length >= 3, $"expected an advertisement per round, saw {answers.Length}");
        Assert.All(answers, line => Assert.All(line.Split('\t'), mac => Assert.Equal(balancerMac, mac)));
    }

    [LabFact]
    public void Ipv4AndIpv6_OnOneEngineAndInterface_BothServe()
    {
        var r = Lab.InClient($"curl -4 -s --noproxy '*' --max-time 3 http://{Lab.Vip}/; curl -6 -s --noproxy '*' --max-time 3 'http://[{Vip6}]/'", 20);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Contains(l, Lab.ServerNames));
        using var doc = fixture.Engine.Status();
        var web6 = doc.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "web6");
        Assert.Equal(Vip6, web6.GetProperty("vip").GetString());
        Assert.True(web6.GetProperty("packets").GetInt64() > 0);
        Assert.All(web6.GetProperty("backends").EnumerateArray(), b => Assert.StartsWith("2001:db8:1::", b.GetProperty("address").GetString()));
    }

    private static int Tshark(string pcap, string filter)
    {
        var r = Shell.Run("tshark", ["-r", pcap, "-Y", filter, "-T", "fields", "-e", "frame.number"], TimeSpan.FromSeconds(60));
        Assert.True(r.ExitCode == 0, r.Output);
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }
}
