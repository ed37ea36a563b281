using System.Text.RegularExpressions;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.DirectRouting;

/// <summary>DR end to end with real nginx, real curl and the real engine in namespaces
/// (client → router → bridge → balancer → real servers, replies straight from the servers to the router), over
/// either frame port: the lab fixture is the parameter (<see cref="DirectRoutingTests"/>, <see cref="DirectRoutingXdpTests"/>).</summary>
public abstract class DirectRoutingSuite<TLab>(TLab fixture) where TLab : EngineLab
{
    protected NamespaceLab Lab => fixture.Lab;

    [LabFact]
    public void NewConnections_Hundred_AllSucceedAndReachEveryBackend()
    {
        var answers = Lab.Connect(100);

        Assert.Equal(100, answers.Length);
        Assert.DoesNotContain("FAILED", answers);
        foreach (var server in Lab.ServerNames)
            Assert.Contains(server, answers);
        Assert.All(answers, a => Assert.Contains(a, Lab.ServerNames));
    }

    [LabFact]
    public void Connection_SeveralRequests_StayOnOneBackend()
    {
        // Each curl sends 4 requests over one kept-alive connection; after each answer ("rs1") it prints
        // "port=<local port>", which identifies the connection.
        var url = $"http://{Lab.Vip}/";
        var r = Lab.InClient($"for i in $(seq 20); do curl -s --noproxy '*' --max-time 3 -w 'port=%{{local_port}}\\n' {url} {url} {url} {url}; echo END; done", 200);
        var connections = r.Stdout.Split("END", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries))
            .Where(tokens => tokens.Length > 0)
            .ToArray();
        Assert.Equal(20, connections.Length);
        foreach (var tokens in connections)
        {
            var names = tokens.Where(t => !t.StartsWith("port=")).ToArray();
            var localPorts = tokens.Where(t => t.StartsWith("port=")).ToArray();
            Assert.Equal(4, names.Length);
            Assert.Equal(4, localPorts.Length);
            Assert.Single(names.Distinct());
            Assert.Single(localPorts.Distinct());
        }

        // The servers' own logs agree: every client port of these connections appears in one log only.
        var ports = connections.Select(tokens => tokens.First(t => t.StartsWith("port="))[5..]).ToHashSet();
        var seenIn = new Dictionary<string, HashSet<string>>();
        foreach (var server in Lab.ServerNames)
            foreach (var line in File.ReadAllLines(Path.Combine(Lab.Dir, $"{server}-access.log")))
            {
                var fields = line.Split(' ');
                if (fields.Length < 2 || !ports.Contains(fields[1])) continue;
                if (!seenIn.TryGetValue(fields[1], out var set)) seenIn[fields[1]] = set = new HashSet<string>();
                set.Add(server);
            }
        Assert.Equal(ports.Count, seenIn.Count);
        Assert.All(seenIn, kv => Assert.Single(kv.Value));
    }

    [LabFact]
    public void Arp_ForVip_AnsweredByBalancerOnly()
    {
        var balancerMac = Lab.In(Lab.BalancerNs, $"cat /sys/class/net/{Lab.BalancerIf}/address").Stdout.Trim();
        Lab.In(Lab.RouterNs, $"ip neigh flush dev {Lab.RouterLanIf}");
        // arping prints one line per reply with the answering MAC: a real server that failed to
        // suppress ARP would show up as a second MAC.
        var r = Lab.In(Lab.RouterNs, $"arping -c 3 -w 6 -I {Lab.RouterLanIf} {Lab.Vip}", 30);
        var macs = Arping.ReplyMacs(r.Stdout);
        Assert.True(macs.Length >= 1, $"no ARP reply for the VIP:\n{r.Output}");
        Assert.All(macs, mac => Assert.Equal(balancerMac, mac));
    }

    [LabFact]
    public void Upload_TenMegabytes_WithOffloadsOn_ArrivesIntact()
    {
        var offloads = Lab.InClient($"ethtool -k {Lab.Env["LAB_CLIENT_IF"]}");
        Assert.Matches(new Regex(@"tcp-segmentation-offload: on"), offloads.Stdout);

        var (file, expected, length) = Lab.RandomFile("upload.bin");

        for (var i = 0; i < 4; i++)
        {
            var answer = Lab.Upload(file);
            var parts = answer.Split(' ');
            Assert.True(parts.Length == 3, $"unexpected answer: '{answer}'");
            Assert.Contains(parts[0], Lab.ServerNames);
            Assert.Equal(expected, parts[1]);
            Assert.Equal(length.ToString(System.Globalization.CultureInfo.InvariantCulture), parts[2]);
        }
    }

    [LabFact]
    public void Download_TenMegabytes_ArrivesIntact()
    {
        var r = Lab.InClient($"curl -s --noproxy '*' --max-time 30 http://{Lab.Vip}/big | sha256sum", 60);
        Assert.Equal(Lab.Env["LAB_BIG_SHA256"], r.Stdout.Split(' ')[0]);
    }

    [LabFact]
    public void Status_Json_HasTheContractFields()
    {
        Lab.InClient($"curl -s --noproxy '*' --max-time 3 http://{Lab.Vip}/");
        using var doc = fixture.Engine.Status();
        var root = doc.RootElement;
        var web = root.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "web");
        Assert.Equal(Lab.Vip, web.GetProperty("vip").GetString());
        Assert.Equal(80, web.GetProperty("port").GetInt32());
        Assert.Equal("tcp", web.GetProperty("protocol").GetString());
        Assert.Equal("dr", web.GetProperty("mode").GetString());
        Assert.True(web.GetProperty("packets").GetInt64() > 0);
        Assert.True(web.GetProperty("bytes").GetInt64() > 0);
        Assert.True(web.GetProperty("flows").GetInt64() > 0);
        foreach (var b in web.GetProperty("backends").EnumerateArray())
        {
            Assert.Contains(b.GetProperty("name").GetString(), Lab.ServerNames);
            Assert.StartsWith("10.99.1.", b.GetProperty("address").GetString());
            Assert.Equal(100, b.GetProperty("weight").GetInt32());
            Assert.Equal("active", b.GetProperty("state").GetString());
            Assert.True(b.GetProperty("packets").GetInt64() >= 0);
            Assert.True(b.GetProperty("bytes").GetInt64() >= 0);
            Assert.True(b.GetProperty("flows").GetInt64() >= 0);
        }
        Assert.Equal(System.Text.Json.JsonValueKind.Object, root.GetProperty("drops").ValueKind);
    }
}

/// <summary>The suite over AF_PACKET (the default <c>io</c>), and what only that port shows: a capture on the
/// balancer's interface sees every frame the engine takes (AF_PACKET taps see them; XDP redirects them first).</summary>
public sealed class DirectRoutingTests(DirectRoutingLab fixture) : DirectRoutingSuite<DirectRoutingLab>(fixture), IClassFixture<DirectRoutingLab>
{
    [LabFact]
    public void Replies_GoStraightToClient_BalancerSeesOnlyClientToVip()
    {
        var pcap = Path.Combine(Lab.Dir, "balancer.pcap");
        var countBefore = ReadCounter("tx_packets");
        using (var capture = PacketCapture.Start(Lab.BalancerNs, Lab.BalancerIf, pcap, "tcp"))
        {
            var r = Lab.InClient($"for i in $(seq 20); do curl -s --noproxy '*' --max-time 3 http://{Lab.Vip}/big -o /dev/null || echo FAILED; done", 300);
            Assert.DoesNotContain("FAILED", r.Stdout);
        }
        var fromVip = Tshark(pcap, $"ip.src=={Lab.Vip}");
        var toVip = Tshark(pcap, $"ip.dst=={Lab.Vip}");
        Assert.Equal(0, fromVip);
        Assert.True(toVip > 100, $"expected the client-to-VIP frames in the capture, saw {toVip}");
        // 20 downloads of 10 MB: if replies crossed the balancer its interface would have sent ~150 k frames
        // (or ~5 k super-frames) on top of what it forwarded; it sent about what it received from clients.
        var sent = ReadCounter("tx_packets") - countBefore;
        Assert.True(sent <= toVip * 2 + 100, $"balancer interface sent {sent} frames for {toVip} client frames");
    }

    private long ReadCounter(string name) =>
        long.Parse(Lab.In(Lab.BalancerNs, $"cat /sys/class/net/{Lab.BalancerIf}/statistics/{name}").Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private static int Tshark(string pcap, string filter)
    {
        var r = Shell.Run("tshark", ["-r", pcap, "-Y", filter, "-T", "fields", "-e", "frame.number"], TimeSpan.FromSeconds(60));
        Assert.True(r.ExitCode == 0, r.Output);
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }
}

/// <summary>The suite over AF_XDP (<c>io: af_xdp</c>, native XDP on the balancer's veth, copy mode), and what the
/// port must leave alone: the kernel's own traffic on the interface.</summary>
public sealed class DirectRoutingXdpTests(DirectRoutingXdpLab fixture) : DirectRoutingSuite<DirectRoutingXdpLab>(fixture), IClassFixture<DirectRoutingXdpLab>
{
    private readonly DirectRoutingXdpLab _fixture = fixture;

    [LabFact]
    public void XdpProgram_AttachedToTheBalancerInterface()
    {
        var link = Lab.In(Lab.BalancerNs, $"ip -d link show {Lab.BalancerIf}").Stdout;
        Assert.Contains("prog/xdp", link);
        Assert.Contains("af_xdp: XDP program attached to", _fixture.Engine.Log);
        // veth: the program runs in the NAPI poll, which threaded NAPI takes off the sender's CPU.
        Assert.Equal("1", Lab.In(Lab.BalancerNs, $"cat /sys/class/net/{Lab.BalancerIf}/threaded").Stdout.Trim());
        Assert.Contains($"af_xdp: threaded NAPI on {Lab.BalancerIf}", _fixture.Engine.Log);
    }

    [LabFact]
    public void HostTraffic_NotForAService_ReachesTheKernel()
    {
        // ARP for the balancer's own address and an ICMP echo to it: the program passes both; a TCP connection to a port
        // of the balancer's own address where nothing listens is refused by the kernel (a RST), not swallowed.
        var address = Lab.Env["LAB_BALANCER_ADDR"].Split('/')[0];
        Lab.In(Lab.RouterNs, $"ip neigh flush dev {Lab.RouterLanIf}");
        var arp = Lab.In(Lab.RouterNs, $"arping -c 2 -w 4 -I {Lab.RouterLanIf} {address}", 30);
        Assert.True(Arping.ReplyMacs(arp.Stdout).Length >= 1, $"the balancer's kernel did not answer ARP for its own address:\n{arp.Output}");
        HostTraffic.AssertKernelAnswers(Lab, Lab.RouterNs, address);
    }
}
