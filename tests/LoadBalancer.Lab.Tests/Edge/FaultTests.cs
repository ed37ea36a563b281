using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.Edge;

/// <summary>A bad day on the balancer's segment and host: ARP poisoning, a link that flaps, an interface deleted under
/// the engine, a second engine started on the same interface.</summary>
public sealed class FaultTests(ITestOutputHelper output)
{
    private static string[] BackendMacs(EngineProcess engine)
    {
        using var status = engine.Status();
        return status.RootElement.GetProperty("services").EnumerateArray()
            .SelectMany(s => s.GetProperty("backends").EnumerateArray())
            .Select(b => $"{b.GetProperty("name").GetString()}={b.GetProperty("mac").GetString()}").ToArray();
    }

    /// <summary>Unsolicited ARPs claiming a backend's address, with a zero MAC (which would black-hole even established
    /// flows) and then a broadcast MAC (which would flood them), every 100 ms from another host on the segment: the
    /// backend MACs do not change, every claim is refused and counted, and traffic keeps flowing.</summary>
    [LabFact]
    public void ArpPoisoning_ZeroAndBroadcastMacs_ChangeNothingTrafficFlows()
    {
        using var lab = NamespaceLab.Up(2);
        var config = lab.WriteDrConfig();
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var before = BackendMacs(engine);
        var balancerMac = lab.In(lab.BalancerNs, $"cat /sys/class/net/{lab.BalancerIf}/address").Stdout.Trim();
        File.WriteAllText(Path.Combine(lab.Dir, "poison.py"), $$"""
            import sys
            from scapy.all import Ether, ARP, sendp
            iface, claimed = sys.argv[1], sys.argv[2]
            frames = []
            for backend in ("10.99.1.11", "10.99.1.12"):
                # An unsolicited reply to the balancer and a gratuitous request to everyone, both naming the claimed MAC.
                frames.append(Ether(dst="{{balancerMac}}")/ARP(op=2, psrc=backend, hwsrc=claimed, pdst="{{lab.Env["LAB_BALANCER_ADDR"]}}", hwdst="{{balancerMac}}"))
                frames.append(Ether(dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, psrc=backend, hwsrc=claimed, pdst=backend))
            sendp(frames, iface=iface, inter=0.1, loop=1, count=8, verbose=False)
            """);

        var poison = lab.In(lab.RouterNs, $"/usr/bin/python3 {lab.Dir}/poison.py {lab.RouterLanIf} 00:00:00:00:00:00 & " +
                                          $"sleep 0.05; for i in $(seq 1 10); do curl -s --noproxy '*' --max-time 3 http://{lab.Vip}/ >/dev/null || echo FAILED; done; wait", 120);
        Assert.DoesNotContain("FAILED", poison.Stdout);
        var poison2 = lab.In(lab.RouterNs, $"/usr/bin/python3 {lab.Dir}/poison.py {lab.RouterLanIf} ff:ff:ff:ff:ff:ff", 120);
        Assert.True(poison2.ExitCode == 0, poison2.Output);

        Assert.Equal(before, BackendMacs(engine));
        Assert.DoesNotContain("FAILED", lab.Connect(10));
        using var status = engine.Status();
        var refused = status.RootElement.GetProperty("frames").GetProperty("arp_refused").GetInt64();
        output.WriteLine($"backend MACs {string.Join(' ', before)} unchanged; {refused} ARPs refused");
        // 2 claims x 2 backends x 8 rounds, for each of the two MACs, all heard by the engine's ARP socket.
        Assert.True(refused >= 60, $"only {refused} ARPs refused");
    }

    /// <summary>Link down for 3 s then up: the engine blocks instead of spinning on POLLERR (its CPU time over the down
    /// period is measured), and new connections work again within 2 s of link up without a restart. Then the interface
    /// is deleted: <c>lb run</c> exits 1 within 5 s naming it.</summary>
    [LabFact]
    public void LinkDownThenUp_NoSpinResumesByItself_DeletedInterfaceStopsTheEngine()
    {
        using var lab = NamespaceLab.Up(2);
        var config = lab.WriteDrConfig();
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        Assert.DoesNotContain("FAILED", lab.Connect(3));

        Assert.Equal(0, lab.In(lab.BalancerNs, $"ip link set {lab.BalancerIf} down").ExitCode);
        var cpuBefore = engine.CpuSeconds();
        var downFor = System.Diagnostics.Stopwatch.StartNew();
        Thread.Sleep(3000); // the outage itself, not a wait for readiness
        var cpuDown = engine.CpuSeconds() - cpuBefore;
        var down = downFor.Elapsed.TotalSeconds;
        Assert.Equal(0, lab.In(lab.BalancerNs, $"ip link set {lab.BalancerIf} up").ExitCode);
        var upAt = System.Diagnostics.Stopwatch.StartNew();
        var answered = lab.InClient($"for i in $(seq 1 40); do curl -s --noproxy '*' -o /dev/null -w '%{{http_code}}' --max-time 0.5 http://{lab.Vip}/ | grep -q 200 && exit 0; done; exit 1", 60);
        var resumed = upAt.Elapsed.TotalSeconds;
        output.WriteLine($"link down {down:F1} s: engine CPU {cpuDown:F2} s ({100 * cpuDown / down:F1} % of a core); first new connection {resumed:F2} s after link up");
        Assert.Equal(0, answered.ExitCode);
        Assert.True(cpuDown < 0.1 * down, $"engine used {cpuDown} s of CPU in {down} s of link down");
        Assert.True(resumed < 2, $"new connections only {resumed} s after link up");

        var deletedAt = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, lab.In(lab.BalancerNs, $"ip link del {lab.BalancerIf}").ExitCode);
        Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(5)), "lb run still running 5 s after its interface was deleted");
        output.WriteLine($"interface deleted: lb run exited {engine.ExitCode} after {deletedAt.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(1, engine.ExitCode);
        Assert.Contains($"interface {lab.BalancerIf} is gone", engine.Log);
    }

    /// <summary>A second <c>lb run</c> on an interface an engine already serves refuses at start, naming the interface,
    /// with exit 2, whether it shares the control socket or not; the first keeps its ingress drop and keeps serving.</summary>
    [LabFact]
    public void SecondEngineOnTheSameInterface_Refuses_FirstKeepsServing()
    {
        using var lab = NamespaceLab.Up(2);
        var config = lab.WriteDrConfig();
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var other = Path.Combine(lab.Dir, "other.yaml");
        File.WriteAllText(other, File.ReadAllText(config).Replace("lb.sock", "other.sock"));

        foreach (var path in new[] { other, config })
        {
            var second = Shell.InNamespace(lab.BalancerNs, ["dotnet", LabEnvironment.LbDll, "run", "--config", path], TimeSpan.FromSeconds(30));
            Assert.True(second.ExitCode == 2, second.Output);
            Assert.Contains(path == other ? $"interface {lab.BalancerIf} is already served" : "another engine is already running", second.Output);
        }

        Assert.False(engine.HasExited);
        Assert.Equal(0, lab.In(lab.BalancerNs, $"nft list table netdev lb_{lab.BalancerIf}").ExitCode);
        Assert.DoesNotContain("FAILED", lab.Connect(10));
    }
}
