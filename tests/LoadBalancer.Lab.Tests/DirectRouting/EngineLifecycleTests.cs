using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.DirectRouting;

/// <summary>What the engine leaves behind: nothing. Its own lab, because it stops the engine.</summary>
public sealed class EngineLifecycleTests
{
    [LabFact]
    public void Stop_Sigint_RemovesIngressDrop()
    {
        using var lab = NamespaceLab.Up(1);
        var config = lab.WriteDrConfig();
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        Assert.Contains("lb_" + lab.BalancerIf, lab.In(lab.BalancerNs, "nft list tables netdev").Stdout);

        Assert.Equal(0, engine.Stop(signal: "INT"));
        Assert.DoesNotContain("lb_" + lab.BalancerIf, lab.In(lab.BalancerNs, "nft list tables netdev").Stdout);
    }

    [LabFact]
    public void Kill_Sigkill_OnAfXdp_LeavesNoXdpProgramAttached()
    {
        using var lab = NamespaceLab.Up(1);
        var config = ConfigFiles.WithTopLevel(lab.WriteDrConfig(ipv6: false), "io: af_xdp");
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        string Link() => lab.In(lab.BalancerNs, $"ip -d link show {lab.BalancerIf}").Stdout;
        Assert.Contains("prog/xdp", Link());
        Assert.DoesNotContain("lb_" + lab.BalancerIf, lab.In(lab.BalancerNs, "nft list tables netdev").Stdout);

        engine.Stop(signal: "KILL");

        // The BPF link is released with the dead process's descriptors, which the kernel closes as it reaps it.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Link().Contains("prog/xdp") && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.DoesNotContain("prog/xdp", Link());
    }

    [LabFact]
    public void Io_Auto_TakesAfXdpOnVeth_ForIpv4AndIpv6()
    {
        using var lab = NamespaceLab.Up(1);
        string Link() => lab.In(lab.BalancerNs, $"ip -d link show {lab.BalancerIf}").Stdout;
        string Drops() => lab.In(lab.BalancerNs, "nft list tables netdev").Stdout;

        var ipv4 = ConfigFiles.WithTopLevel(lab.WriteDrConfig("lb-auto4.yaml", ipv6: false), "io: auto");
        using (var engine = EngineProcess.Start(lab, ipv4, Path.Combine(lab.Dir, "lb.sock")))
        {
            Assert.Contains("io auto: af_xdp (native XDP on " + lab.BalancerIf + ")", engine.Log);
            Assert.Contains("prog/xdp", Link());
            Assert.DoesNotContain("lb_" + lab.BalancerIf, Drops());
            Assert.Equal(0, engine.Stop());
        }
        // Stopped: the program detached and the interface's NAPI as it was.
        Assert.DoesNotContain("prog/xdp", Link());
        Assert.Equal("0", lab.In(lab.BalancerNs, $"cat /sys/class/net/{lab.BalancerIf}/threaded").Stdout.Trim());

        // The default DR config serves IPv6 too: the XDP program steers both families, and a real curl -6 goes through.
        var both = ConfigFiles.WithTopLevel(lab.WriteDrConfig("lb-auto6.yaml"), "io: auto");
        using (var engine = EngineProcess.Start(lab, both, Path.Combine(lab.Dir, "lb.sock")))
        {
            Assert.Contains("io auto: af_xdp (native XDP on " + lab.BalancerIf + ")", engine.Log);
            Assert.DoesNotContain("lb_" + lab.BalancerIf, Drops());
            var r = lab.InClient($"curl -6 -s --noproxy '*' --max-time 3 'http://[{lab.Env["LAB_VIP6"]}]/'");
            Assert.True(r.Stdout.Trim() == "rs1", $"curl -6 through the AF_XDP port: {r.Output}\n{engine.Log}");
            Assert.Equal(0, engine.Stop());
        }
        Assert.DoesNotContain("prog/xdp", Link());
    }

    [LabFact]
    public void Start_AnnouncesVipByGratuitousArp_AndUsesConfiguredMac()
    {
        using var lab = NamespaceLab.Up(2);
        var config = lab.WriteDrConfig();
        // rs1's MAC is given in the config (so never asked for by ARP); rs2 is resolved by ARP.
        var rs1Mac = lab.In(lab.ServerNamespaces[0], $"cat /sys/class/net/{lab.Env["LAB_SERVER_IFS"].Split(' ')[0]}/address").Stdout.Trim();
        var yaml = File.ReadAllText(config);
        var at = yaml.IndexOf("address: 10.99.1.11", StringComparison.Ordinal);
        Assert.True(at > 0, yaml);
        var lineEnd = yaml.IndexOf('\n', at);
        var indent = new string(' ', at - yaml.LastIndexOf('\n', at) - 1);
        File.WriteAllText(config, yaml[..(lineEnd + 1)] + $"{indent}mac: {rs1Mac}\n" + yaml[(lineEnd + 1)..]);
        var balancerMac = lab.In(lab.BalancerNs, $"cat /sys/class/net/{lab.BalancerIf}/address").Stdout.Trim();
        var pcap = Path.Combine(lab.Dir, "garp.pcap");

        using (PacketCapture.Start(lab.RouterNs, lab.RouterLanIf, pcap, "arp"))
        using (var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock")))
        {
            using var status = engine.Status();
            var rs1 = status.RootElement.GetProperty("services")[0].GetProperty("backends").EnumerateArray()
                .Single(b => b.GetProperty("name").GetString() == "rs1");
            Assert.Equal(rs1Mac, rs1.GetProperty("mac").GetString());
            // The second announcement goes out a second after the first; wait (bounded) until both are in.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline && Announcements() < 2) Thread.Sleep(200);
        }

        Assert.True(Announcements() >= 2, "expected two gratuitous ARPs for the VIP from the balancer");
        // Nobody asked rs1 by ARP: its MAC came from the config.
        var askedRs1 = Shell.Run("tshark", ["-r", pcap, "-Y", $"arp.opcode == 1 && arp.src.hw_mac == {balancerMac} && arp.dst.proto_ipv4 == 10.99.1.11",
            "-T", "fields", "-e", "frame.number"]).Stdout.Trim();
        Assert.Equal("", askedRs1);

        int Announcements() => PacketCapture.GratuitousArps(pcap, lab.Vip, balancerMac);
    }

    [LabFact]
    public void Stop_Sigterm_RemovesIngressDropAndControlSocket()
    {
        using var lab = NamespaceLab.Up(1);
        var config = lab.WriteDrConfig();
        var socket = Path.Combine(lab.Dir, "lb.sock");
        var table = "lb_" + lab.BalancerIf;
        using var engine = EngineProcess.Start(lab, config, socket);

        var during = lab.In(lab.BalancerNs, "nft list tables netdev");
        Assert.Contains(table, during.Stdout);
        var served = lab.InClient($"curl -s --noproxy '*' --max-time 3 http://{lab.Vip}/");
        Assert.Equal("rs1", served.Stdout.Trim());

        Assert.Equal(0, engine.Stop());
        var after = lab.In(lab.BalancerNs, "nft list tables netdev");
        Assert.DoesNotContain(table, after.Stdout);
        Assert.False(File.Exists(socket), "control socket left behind");
        Assert.Contains("ingress drop removed", engine.Log);
    }

    [LabFact]
    public void Run_SecondEngineOnSameSocket_RefusesAndLeavesFirstIntact()
    {
        using var lab = NamespaceLab.Up(1);
        var config = lab.WriteDrConfig();
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));

        var second = Shell.InNamespace(lab.BalancerNs, ["dotnet", LabEnvironment.LbDll, "run", "--config", config], TimeSpan.FromSeconds(60));
        Assert.Equal(2, second.ExitCode); // refused, like any second engine on the same interface
        Assert.Contains("another engine is already running", second.Stderr);
        Assert.Contains("lb_" + lab.BalancerIf, lab.In(lab.BalancerNs, "nft list tables netdev").Stdout);
        Assert.Equal("rs1", lab.InClient($"curl -s --noproxy '*' --max-time 3 http://{lab.Vip}/").Stdout.Trim());
    }

    [LabFact]
    public void Workers_TwoWithFanout_EveryConnectionAndUploadSucceeds()
    {
        using var lab = NamespaceLab.Up(2);
        var config = lab.WriteDrConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace("workers: 1", "workers: 2"));
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        using (var status = engine.Status())
            Assert.Equal(2, status.RootElement.GetProperty("workers").GetInt32());

        var answers = lab.Connect(50);
        Assert.Equal(50, answers.Length);
        Assert.All(answers, a => Assert.Contains(a, lab.ServerNames));

        var (file, sha, _) = lab.RandomFile("w2.bin", 5_000_000);
        Assert.Equal(sha, lab.Upload(file).Split(' ')[1]);
    }

    [LabFact]
    public void Run_NonexistentInterface_ExitsNonZeroAndLeavesNothing()
    {
        using var lab = NamespaceLab.Up(1);
        var config = lab.WriteDrConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace(lab.BalancerIf, lab.Prefix + "zz"));
        var r = Shell.InNamespace(lab.BalancerNs, ["dotnet", LabEnvironment.LbDll, "run", "--config", config], TimeSpan.FromSeconds(60));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("does not exist", r.Stderr);
        Assert.DoesNotContain("lb_", lab.In(lab.BalancerNs, "nft list tables netdev").Stdout);
    }
}
