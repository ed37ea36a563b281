using System.Diagnostics;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.HighAvailability;

/// <summary>Two balancers with real keepalived (VRRP, <c>notify_*</c> calling <c>lb ha</c>, <c>lb ha check</c> as
/// its tracked script), a DR and a NAT service on three nginx servers, a client behind a router: the master fails
/// three ways, and every download in flight completes byte-identical while new connections are served again within
/// 5 s; then the first balancer comes back and takes over again (keepalived preempts), and the downloads opened
/// meanwhile complete too. Without sync, the NAT downloads break: that is what sync buys.</summary>
public sealed class FailoverTests(HaLab ha, ITestOutputHelper output) : IClassFixture<HaLab>
{
    private const int DownloadsPerService = 6;

    public enum Failure { HostDies, LinksDown, EngineKilled }

    [LabFact]
    public void BeforeAnyFailure_OnlyTheMasterAnswersArpForTheVips_AndTheBackupSaysBackup()
    {
        ha.Reset();
        var lab = ha.Lab;
        var masterMac = lab.In(ha.Namespace(1), $"cat /sys/class/net/{ha.FrontInterface(1)}/address").Stdout.Trim();
        foreach (var vip in new[] { HaLab.DrVip, HaLab.NatVip })
        {
            lab.In(lab.RouterNs, $"ip neigh flush dev {lab.RouterLanIf}");
            var answers = Arping.ReplyMacs(lab.In(lab.RouterNs, $"arping -c 3 -w 5 -I {lab.RouterLanIf} {vip}", 30).Stdout);
            Assert.NotEmpty(answers);
            Assert.All(answers, mac => Assert.Equal(masterMac, mac));
        }
        Assert.Equal("backup", ha.Role(2));
    }

    [LabFact]
    public void HostDies_DownloadsSurvive_AndFailback() => FailOver(Failure.HostDies);

    [LabFact]
    public void LinksDown_DownloadsSurvive_AndFailback() => FailOver(Failure.LinksDown);

    [LabFact]
    public void EngineKilled_LbHaCheckHandsOver_DownloadsSurvive_AndFailback() => FailOver(Failure.EngineKilled);

    private void FailOver(Failure failure)
    {
        ha.Reset();
        var before = StartDownloads("before");
        // The operator drains rs1 and re-weights rs2 on both balancers: flows on rs1 (and some of rs2's share) now
        // live only in the flow table and the sessions, where Maglev alone would send them elsewhere.
        WaitForBytes(before.Keys);
        foreach (var node in new[] { 1, 2 })
            foreach (var service in new[] { "web-dr", "web-nat" })
            {
                Assert.Equal(0, ha.Lb(node, $"backend drain {service} rs1").ExitCode);
                Assert.Equal(0, ha.Lb(node, $"backend weight {service} rs2 30").ExitCode);
            }

        var clock = Stopwatch.StartNew();
        Fail(failure);
        var gap = ha.ServedAgain(clock, TimeSpan.FromSeconds(15));
        output.WriteLine($"{failure}: new connections served again after {gap?.TotalSeconds:F2} s");
        File.AppendAllText("/tmp/lb-ha-failover-gaps.txt", $"{DateTime.UtcNow:O} {failure} {gap?.TotalSeconds:F3}\n");
        Assert.True(gap is { } g && g < TimeSpan.FromSeconds(5), $"{failure}: gap {gap}\n{ha.Log(2)}");
        Assert.Equal("master", ha.Role(2));

        // Failback: downloads opened through balancer 2, then balancer 1 back (it gets balancer 2's tables at once, and
        // keepalived preempts once its lb_ok script has risen).
        var during = StartDownloads("during");
        WaitForBytes(during.Keys);
        Restore(failure);
        Retry.Until(() => ha.Role(1) == "master", TimeSpan.FromSeconds(20), "balancer 1 master again");

        var broken = Finish(before.Concat(during));
        Assert.True(broken.Count == 0, $"{failure}: broken downloads: {string.Join(", ", broken)}\n{ha.Log(1)}\n{ha.Log(2)}");
        var sync = ha.Sync(1);
        Assert.True(sync.GetProperty("installed").GetInt64() >= DownloadsPerService, sync.ToString());
        Assert.Equal(0, sync.GetProperty("refused").GetInt64());
    }

    [LabFact]
    public void WithoutSync_TheNatDownloadsBreak()
    {
        ha.Reset(sync: false);
        var before = StartDownloads("nosync");
        WaitForBytes(before.Keys);
        foreach (var node in new[] { 1, 2 })
            foreach (var service in new[] { "web-dr", "web-nat" })
                Assert.Equal(0, ha.Lb(node, $"backend drain {service} rs1").ExitCode);
        Fail(Failure.HostDies);
        Assert.NotNull(ha.ServedAgain(Stopwatch.StartNew(), TimeSpan.FromSeconds(15)));

        var broken = Finish(before);
        var nat = broken.Count(b => b.StartsWith("nosync-nat", StringComparison.Ordinal));
        var dr = broken.Count(b => b.StartsWith("nosync-dr", StringComparison.Ordinal));
        output.WriteLine($"without sync: {dr} of {DownloadsPerService} DR and {nat} of {DownloadsPerService} NAT downloads broke");
        File.AppendAllText("/tmp/lb-ha-failover-gaps.txt", $"{DateTime.UtcNow:O} nosync dr-broken {dr} nat-broken {nat}\n");
        Assert.Equal(DownloadsPerService, nat);
    }

    [LabFact]
    public void SyncFromAnotherAddress_OrWithAnotherKey_IsRefusedAndCounted()
    {
        var keys = new[] { "sync1.key", "sync2.key" }.Select(name => Path.Combine(ha.Dir, name)).ToArray();
        foreach (var key in keys)
        {
            File.WriteAllText(key, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) + "\n");
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        ha.Reset(sync: true, keyFile1: keys[0], keyFile2: keys[1]);
        Retry.Until(() => ha.Sync(1).GetProperty("refused").GetInt64() > 0 && ha.Sync(2).GetProperty("refused").GetInt64() > 0,
            TimeSpan.FromSeconds(10), "each balancer refusing the other's hellos");
        Assert.Equal(0, ha.Sync(1).GetProperty("received").GetInt64());
        Assert.Equal(0, ha.Sync(2).GetProperty("received").GetInt64());

        // A host on the LAN that is not the peer, sending a well-formed (unauthenticated) hello to balancer 2's port.
        var refused = ha.Sync(2).GetProperty("refused").GetInt64();
        var hello = "LBSY" + "\\x01\\x01\\x00\\x01" + string.Concat(Enumerable.Repeat("\\x00", 7)) + "\\x01" +
                    string.Concat(Enumerable.Repeat("\\x00", 7)) + "\\x01" + "\\x00\\x00\\x00\\x20\\x00\\x00\\x00\\x00";
        var sent = ha.Lab.In(ha.Lab.ServerNamespaces[0], $"{LabPython} -c \"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); " +
                                                         $"s.bind(('', 8848)); s.sendto(b'{hello}', ('10.99.1.3', 8848))\"");
        Assert.True(sent.ExitCode == 0, sent.Output);
        Retry.Until(() => ha.Sync(2).GetProperty("refused").GetInt64() > refused, TimeSpan.FromSeconds(5), "the stranger's message refused");
        Assert.Equal(0, ha.Sync(2).GetProperty("received").GetInt64());
        Assert.Contains("not from ha.sync.peer", File.ReadAllText(Path.Combine(ha.Dir, "lb2.log")));
    }

    private const string LabPython = "/usr/bin/python3";

    private void Fail(Failure failure)
    {
        switch (failure)
        {
            case Failure.HostDies: ha.Kill(1); break;
            case Failure.LinksDown: ha.SetLinks(1, up: false); break;
            case Failure.EngineKilled: ha.KillEngine(1); break;
        }
    }

    private void Restore(Failure failure)
    {
        switch (failure)
        {
            case Failure.HostDies:
                ha.Start(1);
                break;
            case Failure.LinksDown:
                ha.SetLinks(1, up: true);
                break;
            case Failure.EngineKilled:
                // keepalived is still running: it sees lb ha check pass again and preempts.
                ha.Topology($"lab_start_balancer_engine {ha.Prefix} 1", 90);
                break;
        }
    }

    private Dictionary<string, Func<(int Exit, string Sha)>> StartDownloads(string tag)
    {
        var downloads = new Dictionary<string, Func<(int, string)>>();
        for (var i = 0; i < DownloadsPerService; i++)
        {
            downloads[$"{tag}-dr-{i}"] = ha.Download(HaLab.DrVip, $"{tag}-dr-{i}");
            downloads[$"{tag}-nat-{i}"] = ha.Download(HaLab.NatVip, $"{tag}-nat-{i}");
        }
        return downloads;
    }

    private void WaitForBytes(IEnumerable<string> names) => NamespaceLab.WaitForBytes(ha.Lab, names);

    private List<string> Finish(IEnumerable<KeyValuePair<string, Func<(int Exit, string Sha)>>> downloads) =>
        ha.Lab.Broken(downloads.Select(d => (d.Key, d.Value)));
}
