using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Nat;

/// <summary>The NAT lab built dual stack with its back segment at MTU 1400 (the servers still advertise the MSS of a
/// 1500-byte path on their IPv6 route), and one engine serving the lab's IPv4 and IPv6 NAT services on the same two
/// interfaces, plus "void6": UDP to a backend port nobody listens on.</summary>
public sealed class Nat66Lab() : EngineLab(() => NamespaceLab.UpNat(2, backMtu: Nat66Tests.BackMtu), lab =>
{
    var config = lab.WriteNatConfig();
    File.AppendAllText(config, $"""
          - name: void6
            vip: '{lab.Env["LAB_VIP6"]}'
            port: {Nat66Tests.ClosedPort}
            protocol: udp
            mode: nat
            interface: {lab.BalancerIf}
            backend_interface: {lab.Env["LAB_BALANCER_BACK_IF"]}
            gateway: '{lab.Env["LAB_ROUTER_FRONT_ADDR6"]}'
            backends:
              - {"{"}name: rs1, address: '2001:db8:4::11'{"}"}

        """);
    return config;
});

/// <summary>NAT66 end to end: client → router → balancer (front) … (back) → real servers whose IPv6 default route is
/// the balancer's back address, with real nginx, curl, the upload server and the UDP echo over IPv6.</summary>
public sealed class Nat66Tests(Nat66Lab fixture) : IClassFixture<Nat66Lab>
{
    public const int BackMtu = 1400;
    public const int ClosedPort = 9999;

    private NamespaceLab Lab => fixture.Lab;
    private string Vip6 => Lab.Env["LAB_VIP6"];
    private string Client6 => Lab.Env["LAB_CLIENT_ADDR6"];
    private string Url(string path = "/", int port = 80) => $"http://[{Vip6}]:{port}{path}";

    [LabFact]
    public void NewConnections_HundredThroughTheIpv6Vip_AllSucceedAndReachBothBackends()
    {
        var answers = Lab.InClient($"for i in $(seq 100); do curl -s --noproxy '*' --max-time 3 '{Url()}' || echo FAILED; done", 600)
            .Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();

        Assert.Equal(100, answers.Length);
        Assert.DoesNotContain("FAILED", answers);
        Assert.Contains("rs1", answers);
        Assert.Contains("rs2", answers); // rs2 serves web6 on 8081: the port was translated too
    }

    [LabFact]
    public void AccessLogs_ShowTheRealClientIpv6AddressAndPort()
    {
        // Fixed client ports, so each request's log line can be matched to the connection that made it.
        var ports = Enumerable.Range(46001, 10).ToArray();
        var r = Lab.InClient(string.Join("; ", ports.Select(p => $"curl -s --noproxy '*' --max-time 3 --local-port {p} '{Url()}' || echo FAILED")), 60);
        Assert.DoesNotContain("FAILED", r.Stdout);

        var logs = Lab.ServerNames.SelectMany(n => File.ReadAllLines(Path.Combine(Lab.Dir, $"{n}-access.log"))).ToArray();
        foreach (var port in ports)
            Assert.Contains(logs, l => l.StartsWith($"{Client6} {port} ", StringComparison.Ordinal));
        // Nothing but the client and the lab's own readiness checks (from the balancer's back addresses) reached nginx.
        var others = logs.Where(l => !l.StartsWith(Lab.Env["LAB_BALANCER_BACK_ADDR6"] + " ", StringComparison.Ordinal)
                                     && !l.StartsWith(Lab.Env["LAB_BALANCER_BACK_ADDR"] + " ", StringComparison.Ordinal)
                                     && !l.StartsWith(Client6 + " ", StringComparison.Ordinal)
                                     && !l.StartsWith(Lab.Env["LAB_CLIENT_ADDR"] + " ", StringComparison.Ordinal)).ToArray();
        Assert.Empty(others);
    }

    [LabFact]
    public void Download_TenMegabytesOverIpv6_ByteIdentical()
    {
        var r = Lab.InClient($"curl -s --noproxy '*' --max-time 30 '{Url("/big")}' | sha256sum", 60);
        Assert.Equal(Lab.Env["LAB_BIG_SHA256"], r.Stdout.Split(' ')[0]);
    }

    [LabFact]
    public void Udp_EchoThroughTheIpv6Vip_Answers()
    {
        var r = Lab.InClient($"/usr/bin/python3 {LabEnvironment.RepositoryRoot}/lab/servers/udp_echo.py --query {Vip6} --port 5353 --payload hello-nat66", 30);
        Assert.Matches(@"^rs\d hello-nat66", r.Stdout.Trim());
    }

    [LabFact]
    public void UdpToClosedBackendPort_ClientGetsPortUnreachableFromVipQuotingItsDatagram()
    {
        var pcap = Path.Combine(Lab.Dir, "icmp6-unreachable.pcap");
        string result;
        using (PacketCapture.Start(Lab.ClientNs, Lab.Env["LAB_CLIENT_IF"], pcap, "icmp6 or udp"))
        {
            result = Lab.UdpProbe(Vip6, ClosedPort);
        }
        Assert.StartsWith("REFUSED", result);
        var clientPort = result.Split(' ')[1];

        var fields = Shell.Run("tshark", ["-r", pcap, "-Y", "icmpv6.type == 1 && icmpv6.code == 4", "-T", "fields",
            "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "icmpv6.checksum.status"]).Stdout.Trim();
        var parts = fields.Split('\n')[0].Split('\t');
        // ipv6.src/ipv6.dst list the outer then the quoted header; the quoted UDP header is the client's datagram.
        Assert.True(parts.Length == 5, $"tshark: '{fields}'");
        Assert.Equal($"{Vip6},{Client6}", parts[0]);
        Assert.Equal($"{Client6},{Vip6}", parts[1]);
        Assert.Equal(clientPort, parts[2]);
        Assert.Equal(ClosedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), parts[3]);
        Assert.Equal("1", parts[4]); // good
    }

    [LabFact]
    public void OversizeClientPacket_ClientGetsPacketTooBig_ThenOneMegabyteUploadSucceeds()
    {
        // Forget any path MTU learnt by an earlier test, so this upload starts at 1500 and needs the balancer's answer.
        Assert.Equal(0, Lab.InClient("ip -6 route flush cache").ExitCode);
        var (file, expected, length) = Lab.RandomFile("nat66-upload.bin", 1024 * 1024);
        var pcap = Path.Combine(Lab.Dir, "icmp6-ptb.pcap");

        string answer;
        using (PacketCapture.Start(Lab.ClientNs, Lab.Env["LAB_CLIENT_IF"], pcap, "icmp6"))
            answer = Lab.InClient($"curl -s --noproxy '*' --max-time 30 --data-binary @{file} '{Url("/upload", 8080)}'", 60).Stdout.Trim();

        var parts = answer.Split(' ');
        Assert.True(parts.Length == 3, $"upload answered '{answer}'");
        Assert.Equal(expected, parts[1]);
        Assert.Equal(length.ToString(System.Globalization.CultureInfo.InvariantCulture), parts[2]);
        var ptb = Shell.Run("tshark", ["-r", pcap, "-Y", "icmpv6.type == 2", "-T", "fields", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "icmpv6.mtu"]).Stdout;
        var first = ptb.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Split('\t');
        Assert.True(first is { Length: 3 }, $"no Packet Too Big captured: '{ptb}'");
        Assert.StartsWith($"{Vip6},{Client6}", first[0]); // from the VIP, quoting the client's packet to the VIP
        Assert.Equal(BackMtu.ToString(System.Globalization.CultureInfo.InvariantCulture), first[2]);
        // The client's kernel took it: its route to the VIP now carries the smaller MTU.
        Assert.Contains($"mtu {BackMtu}", Lab.InClient($"ip -6 route get {Vip6}").Stdout);
    }

    [LabFact]
    public void Ipv4AndIpv6NatOnOneEngineAndInterface_EachAnswers()
    {
        var r = Lab.InClient($"curl -s --noproxy '*' --max-time 3 http://{Lab.Vip}/; curl -s --noproxy '*' --max-time 3 '{Url()}'; " +
                             $"/usr/bin/python3 {LabEnvironment.RepositoryRoot}/lab/servers/udp_echo.py --query {Lab.Vip} --port 5353 --payload four; " +
                             $"/usr/bin/python3 {LabEnvironment.RepositoryRoot}/lab/servers/udp_echo.py --query {Vip6} --port 5353 --payload six", 30);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();

        Assert.Equal(4, lines.Length);
        Assert.Matches(@"^rs\d$", lines[0]);
        Assert.Matches(@"^rs\d$", lines[1]);
        Assert.Matches(@"^rs\d four$", lines[2]);
        Assert.Matches(@"^rs\d six$", lines[3]);
        using var doc = fixture.Engine.Status();
        var modes = doc.RootElement.GetProperty("services").EnumerateArray()
            .ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("mode").GetString());
        Assert.Equal("nat", modes["web"]);
        Assert.Equal("nat", modes["web6"]);
    }
}
