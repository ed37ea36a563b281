using System.Diagnostics;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.ScaleOut;

/// <summary>The announced VIP is a route in its own table through a TUN device the engine alone holds: present
/// while the engine serves, gone the moment the engine dies, SIGKILL included, with nobody cleaning up.</summary>
public sealed class AnnouncedRouteTests(ITestOutputHelper output)
{
    [LabFact]
    public void AnnouncedVip_RouteInItsTableWhileServing_GoneWithTheDeviceAfterSigkill()
    {
        using var lab = NamespaceLab.Up(1);
        // IPv4 services only: announce is IPv4-only so far (lb check refuses it on an IPv6 service).
        var config = lab.WriteDrConfig(ipv6: false);
        File.WriteAllText(config, File.ReadAllText(config).Replace("    mode: dr\n", "    mode: dr\n    arp: false\n    announce: true\n") +
                                  "announce:\n  table: 100\n");
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));

        string Routes() => lab.In(lab.BalancerNs, "ip route show table 100").Stdout.Trim();
        Retry.Until(() => Routes().Length > 0, TimeSpan.FromSeconds(10), "the VIP announced");
        Assert.Equal($"{lab.Vip} dev lbr100 proto static scope link", Routes());
        using (var status = engine.Status())
            Assert.All(status.RootElement.GetProperty("services").EnumerateArray(), s => Assert.True(s.GetProperty("announced").GetBoolean()));
        // arp: false: the router's ARP for the VIP goes unanswered.
        Assert.Empty(Arping.ReplyMacs(lab.In(lab.RouterNs, $"arping -c 2 -w 3 -I {lab.RouterLanIf} {lab.Vip}", 30).Stdout));

        var clock = Stopwatch.StartNew();
        engine.Stop(signal: "KILL");
        Retry.Until(() => Routes().Length == 0, TimeSpan.FromSeconds(5), "the route gone after SIGKILL");
        output.WriteLine($"route gone {clock.ElapsedMilliseconds} ms after SIGKILL was sent");
        Assert.NotEqual(0, lab.In(lab.BalancerNs, "ip link show lbr100").ExitCode);
    }
}
