using System.Text.RegularExpressions;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.HighAvailability;

/// <summary>The real engine as one half of an HA pair, switched by <c>lb ha</c> as keepalived's notify scripts
/// would: a backup leaves the VIP to the master on the wire, a new master answers ARP and announces the VIP.</summary>
public sealed class HaRoleTests
{
    [LabFact]
    public void Backup_AnswersNoArpForTheVip_ThenLbHaMaster_AnswersAndAnnouncesIt()
    {
        using var lab = NamespaceLab.Up(1);
        var config = lab.WriteDrConfig();
        File.AppendAllText(config, "ha:\n  garp: {count: 2, interval: 300ms}\n");
        var socket = Path.Combine(lab.Dir, "lb.sock");
        var balancerMac = lab.In(lab.BalancerNs, $"cat /sys/class/net/{lab.BalancerIf}/address").Stdout.Trim();
        var pcap = Path.Combine(lab.Dir, "ha-arp.pcap");

        using var capture = PacketCapture.Start(lab.RouterNs, lab.RouterLanIf, pcap, "arp");
        using var engine = EngineProcess.Start(lab, config, socket);
        using (var status = engine.Status())
            Assert.Equal("backup", status.RootElement.GetProperty("ha").GetProperty("role").GetString());

        lab.In(lab.RouterNs, $"ip neigh flush dev {lab.RouterLanIf}");
        Assert.Empty(Arping.ReplyMacs(lab.In(lab.RouterNs, $"arping -c 2 -w 3 -I {lab.RouterLanIf} {lab.Vip}", 30).Stdout));
        // Three seconds up as backup: a lone balancer would have announced the VIP twice by now.
        Assert.Equal(0, Announcements());

        var switched = Shell.Run("dotnet", [LabEnvironment.LbDll, "ha", "master", "--socket", socket], TimeSpan.FromSeconds(20));
        Assert.True(switched.ExitCode == 0, switched.Output);
        Assert.Equal("ha role master", switched.Stdout.Trim());

        var answers = Arping.ReplyMacs(lab.In(lab.RouterNs, $"arping -c 3 -w 6 -I {lab.RouterLanIf} {lab.Vip}", 30).Stdout);
        Assert.NotEmpty(answers);
        Assert.All(answers, mac => Assert.Equal(balancerMac, mac));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && Announcements() < 2) Thread.Sleep(200);
        Assert.Equal(2, Announcements());
        Assert.Matches(new Regex(@"ha role master \(was backup\), asked by \S"), engine.Log);

        int Announcements() => PacketCapture.GratuitousArps(pcap, lab.Vip, balancerMac);
    }

    [LabFact]
    public void LbHaCheck_EngineAnswersWithHealthyBackends_ZeroThenOneOnceItStops()
    {
        using var lab = NamespaceLab.Up(1);
        var config = lab.WriteDrConfig();
        File.AppendAllText(config, "ha: {}\n");
        var socket = Path.Combine(lab.Dir, "lb.sock");
        CommandResult check;
        using (var engine = EngineProcess.Start(lab, config, socket))
        {
            // The real server's health is decided by the checker shortly after start: bounded wait for it.
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while ((check = Check()).ExitCode != 0 && DateTime.UtcNow < deadline) Thread.Sleep(200);
            Assert.True(check.ExitCode == 0, check.Output);
            Assert.Equal("ok: 3 services, each with a usable backend, role backup", check.Stdout.Trim());
            Assert.Equal(0, engine.Stop());
        }
        check = Check();
        Assert.Equal(1, check.ExitCode);
        Assert.StartsWith($"engine not answering at {socket}: ", check.Stderr);

        CommandResult Check() => Shell.Run("dotnet", [LabEnvironment.LbDll, "ha", "check", "--socket", socket], TimeSpan.FromSeconds(20));
    }
}
