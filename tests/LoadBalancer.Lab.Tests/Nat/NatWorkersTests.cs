using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Nat;

/// <summary>NAT with several workers: both directions of every flow must reach the worker holding its session.</summary>
public sealed class NatWorkersTests
{
    [LabFact]
    public void TwoWorkers_EveryReplyFindsItsSession_BothWorkersCarryTraffic()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = lab.WriteNatConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace("workers: 1", "workers: 2"));
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));

        var answers = lab.Connect(100);
        Assert.Equal(100, answers.Length);
        Assert.DoesNotContain("FAILED", answers);
        var download = lab.InClient($"curl -s --noproxy '*' --max-time 30 http://{lab.Vip}/big | sha256sum", 60).Stdout;
        Assert.Equal(lab.Env["LAB_BIG_SHA256"], download.Split(' ')[0]);

        using var status = engine.Status();
        Assert.Equal(2, status.RootElement.GetProperty("workers").GetInt32());
        Assert.Equal(0, status.RootElement.GetProperty("frames").GetProperty("nat_replies_without_session").GetInt64());
        // 100 connections from one client, differing only in port, spread over both workers.
        Assert.All(status.RootElement.GetProperty("worker_frames").EnumerateArray(), w => Assert.True(w.GetProperty("tx").GetInt64() > 50));
    }

    [LabFact]
    public void TwoWorkersIpv6_EveryReplyFindsItsSession_BothWorkersCarryTraffic()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = lab.WriteNatConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace("workers: 1", "workers: 2"));
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var url = $"http://[{lab.Env["LAB_VIP6"]}]";

        var answers = lab.InClient($"for i in $(seq 100); do curl -s --noproxy '*' --max-time 3 '{url}/' || echo FAILED; done", 600)
            .Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();
        Assert.Equal(100, answers.Length);
        Assert.DoesNotContain("FAILED", answers);
        var download = lab.InClient($"curl -s --noproxy '*' --max-time 30 '{url}/big' | sha256sum", 60).Stdout;
        Assert.Equal(lab.Env["LAB_BIG_SHA256"], download.Split(' ')[0]);

        using var status = engine.Status();
        Assert.Equal(2, status.RootElement.GetProperty("workers").GetInt32());
        // Replies keyed on the client's folded IPv6 address and port reach the worker holding their session.
        Assert.Equal(0, status.RootElement.GetProperty("frames").GetProperty("nat_replies_without_session").GetInt64());
        Assert.All(status.RootElement.GetProperty("worker_frames").EnumerateArray(), w => Assert.True(w.GetProperty("tx").GetInt64() > 50));
    }
}
