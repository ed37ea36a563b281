using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.DirectRouting;

/// <summary>What the engine leaves behind: nothing. Its own lab, because it stops the engine.</summary>
public sealed class EngineLifecycleTests
{
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
