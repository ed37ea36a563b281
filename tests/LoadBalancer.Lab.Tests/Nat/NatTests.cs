using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Nat;

/// <summary>NAT end to end: client → router → balancer (front) … (back) → real servers whose gateway is
/// the balancer, with real nginx, curl and a UDP echo server. rs2 serves "web" on port 8081. Over either frame port:
/// the lab fixture is the parameter (<see cref="NatTests"/>, <see cref="NatXdpTests"/>).</summary>
public abstract class NatSuite<TLab>(TLab fixture) where TLab : EngineLab
{
    protected NamespaceLab Lab => fixture.Lab;

    [LabFact]
    public void NewConnections_Hundred_AllSucceedAndReachEveryBackendIncludingOneOnAnotherPort()
    {
        var answers = Lab.Connect(100);
        Assert.Equal(100, answers.Length);
        Assert.DoesNotContain("FAILED", answers);
        Assert.Contains("rs1", answers);
        Assert.Contains("rs2", answers); // rs2 listens on 8081 for this service: the port was translated
    }

    [LabFact]
    public void Download_TenMegabytes_ByteIdentical()
    {
        var r = Lab.InClient($"curl -s --noproxy '*' --max-time 30 http://{Lab.Vip}/big | sha256sum", 60);
        Assert.Equal(Lab.Env["LAB_BIG_SHA256"], r.Stdout.Split(' ')[0]);
    }

    [LabFact]
    public void Upload_TenMegabytes_ByteIdentical()
    {
        var (file, expected, _) = Lab.RandomFile("nat-upload.bin");
        for (var i = 0; i < 3; i++)
        {
            var parts = Lab.Upload(file).Split(' ');
            Assert.Equal(3, parts.Length);
            Assert.Equal(expected, parts[1]);
        }
    }

    [LabFact]
    public void Client_SeesOnlyTheVip_BackendsSeeTheRealClient()
    {
        var pcap = Path.Combine(Lab.Dir, "client.pcap");
        var curl = "";
        using (PacketCapture.Start(Lab.ClientNs, Lab.Env["LAB_CLIENT_IF"], pcap, "tcp"))
        {
            curl = string.Join('\n', Lab.Connect(10));
            Assert.DoesNotContain("FAILED", curl);
        }
        var decoded = Shell.Run("tshark", ["-r", pcap, "-T", "fields", "-e", "ip.src", "-e", "ip.dst"]);
        var peers = decoded.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).SelectMany(l => l.Split('\t')).ToHashSet();
        Assert.True(peers.SetEquals([Lab.Env["LAB_CLIENT_ADDR"], Lab.Vip]),
            $"peers [{string.Join(' ', peers)}], capture {new FileInfo(pcap).Length} bytes, tshark: {decoded.Stderr}, curl: {curl}");

        // Requests from the balancer's own back addresses (both families) are the lab's readiness checks; every
        // other one came through the VIP and must carry the real client address.
        var logs = Lab.ServerNames.SelectMany(n => File.ReadAllLines(Path.Combine(Lab.Dir, $"{n}-access.log")))
            .Where(l => !l.StartsWith(Lab.Env["LAB_BALANCER_BACK_ADDR"] + " ", StringComparison.Ordinal)
                        && !l.StartsWith(Lab.Env["LAB_BALANCER_BACK_ADDR6"] + " ", StringComparison.Ordinal)).ToArray();
        Assert.True(logs.Length >= 10, $"{logs.Length} requests logged");
        Assert.All(logs, l => Assert.StartsWith(Lab.Env["LAB_CLIENT_ADDR"] + " ", l));
    }

    [LabFact]
    public void Udp_RequestResponse_Works()
    {
        var r = Lab.InClient($"/usr/bin/python3 {LabEnvironment.RepositoryRoot}/lab/servers/udp_echo.py --query {Lab.Vip} --port 5353 --payload hello-nat", 30);
        Assert.Matches(@"^rs\d hello-nat", r.Stdout.Trim());
    }

    [LabFact]
    public void Status_Json_HasSessionsPerServiceAndBackend()
    {
        Lab.InClient($"curl -s --noproxy '*' --max-time 3 http://{Lab.Vip}/");
        using var doc = fixture.Engine.Status();
        var web = doc.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "web");
        Assert.Equal("nat", web.GetProperty("mode").GetString());
        Assert.True(web.GetProperty("sessions").GetInt64() >= 0);
        Assert.All(web.GetProperty("backends").EnumerateArray(), b => Assert.True(b.GetProperty("sessions").GetInt64() >= 0));
        Assert.Contains(web.GetProperty("backends").EnumerateArray(), b => b.GetProperty("port").GetInt32() == 8081);
    }
}

public sealed class NatTests(NatLab fixture) : NatSuite<NatLab>(fixture), IClassFixture<NatLab>;

/// <summary>The suite over AF_XDP (<c>io: af_xdp</c>): the program on the client side steers the VIPs, the one on the
/// backend side the backends' replies; the balancer's own traffic on both stays the kernel's.</summary>
public sealed class NatXdpTests(NatXdpLab fixture) : NatSuite<NatXdpLab>(fixture), IClassFixture<NatXdpLab>
{
    private readonly NatXdpLab _fixture = fixture;

    [LabFact]
    public void XdpProgram_AttachedToBothSides()
    {
        foreach (var name in new[] { Lab.Env["LAB_BALANCER_IF"], Lab.Env["LAB_BALANCER_BACK_IF"] })
        {
            Assert.Contains("prog/xdp", Lab.In(Lab.BalancerNs, $"ip -d link show {name}").Stdout);
            Assert.Contains($"af_xdp: XDP program attached to {name}", _fixture.Engine.Log);
        }
    }

    [LabFact]
    public void HostTraffic_OnTheBackendSide_ReachesTheKernel()
    {
        // From a backend to the balancer's own back address: ICMP echo, and TCP to a port where nothing listens (a RST
        // from the kernel, not swallowed); the backends' health checks (from that address) keep them active.
        var address = Lab.Env["LAB_BALANCER_BACK_ADDR"];
        HostTraffic.AssertKernelAnswers(Lab, Lab.ServerNamespaces[0], address);
        using var status = _fixture.Engine.Status();
        var web = status.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "web");
        Assert.All(web.GetProperty("backends").EnumerateArray(), b => Assert.Equal("healthy", b.GetProperty("health").GetString()));
    }
}
