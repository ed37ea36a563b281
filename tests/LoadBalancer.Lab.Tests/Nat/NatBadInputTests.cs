using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Nat;

/// <summary>Malformed and unexpected frames on both sides of a NAT balancer: each is dropped or passed as
/// modes.md says, counted under its reason, and the engine keeps serving.</summary>
public sealed class NatBadInputTests
{
    // Raw frames straight at the balancer's MACs (scapy sendp), so no router or kernel cleans them up first.
    private const string Front = """
        import sys
        from scapy.all import Ether, IP, TCP, Raw, sendp, raw
        iface, mac, vip, client = sys.argv[1:5]
        e = Ether(dst=mac)
        frames = [
            e/IP(src=client, dst=vip, proto=6)/Raw(b"0123456789"),                         # tcp_truncated
            Ether(dst=mac, type=0x0800)/Raw(bytes([0x44]) + raw(IP(src=client, dst=vip)/TCP(dport=80))[1:]),  # ihl 4
            e/IP(src=client, dst=vip, chksum=0x1234)/TCP(sport=1111, dport=80, flags="S"), # ipv4_bad_checksum
            e/IP(src=client, dst=vip, ttl=1)/TCP(sport=1112, dport=80, flags="S"),         # ttl_expired
            e/IP(src=client, dst=vip, flags="MF", frag=0)/TCP(sport=1113, dport=80),       # ipv4_fragment
            e/IP(src=client, dst=vip)/TCP(sport=1114, dport=80, flags="A"),                # nat_no_session
            Ether(dst=mac, type=0x0800)/Raw(b"\x45\x00"),                                 # ipv4_truncated
        ]
        sendp(frames, iface=iface, verbose=False)
        """;

    private const string Back = """
        import sys
        from scapy.all import Ether, IP, TCP, Raw, sendp
        iface, mac, backend, client = sys.argv[1:5]
        e = Ether(dst=mac)
        frames = [
            e/IP(src=backend, dst=client)/TCP(sport=80, dport=4444, flags="SA"),           # reply without a session: passed
            e/IP(src=backend, dst=client, proto=6)/Raw(b"xx"),                             # truncated, not ours: passed
            e/IP(src=backend, dst=client, flags="MF")/TCP(sport=80, dport=4445),           # fragment, not ours: passed
        ]
        sendp(frames, iface=iface, verbose=False)
        """;

    [LabFact]
    public void MalformedFramesOnBothSides_DroppedOrPassedAndCounted_EngineKeepsServing()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = lab.WriteNatConfig();
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var frontMac = lab.In(lab.BalancerNs, $"cat /sys/class/net/{lab.BalancerIf}/address").Stdout.Trim();
        var backIf = lab.Env["LAB_BALANCER_BACK_IF"];
        var backMac = lab.In(lab.BalancerNs, $"cat /sys/class/net/{backIf}/address").Stdout.Trim();
        File.WriteAllText(Path.Combine(lab.Dir, "front.py"), Front);
        File.WriteAllText(Path.Combine(lab.Dir, "back.py"), Back);

        var front = lab.In(lab.RouterNs, $"/usr/bin/python3 {lab.Dir}/front.py {lab.Env["LAB_ROUTER_LAN_IF"]} {frontMac} {lab.Vip} {lab.Env["LAB_CLIENT_ADDR"]}", 60);
        Assert.True(front.ExitCode == 0, front.Output);
        var server = lab.ServerNamespaces[0];
        var back = lab.In(server, $"/usr/bin/python3 {lab.Dir}/back.py {lab.Env["LAB_SERVER_IFS"].Split(' ')[0]} {backMac} 10.99.4.11 {lab.Env["LAB_CLIENT_ADDR"]}", 60);
        Assert.True(back.ExitCode == 0, back.Output);

        var drops = new Dictionary<string, long>();
        long withoutSession = 0;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var expected = new[] { "tcp_truncated", "ipv4_bad_header_length", "ipv4_bad_checksum", "ttl_expired", "ipv4_fragment", "nat_no_session", "ipv4_truncated" };
        while (DateTime.UtcNow < deadline)
        {
            using var status = engine.Status();
            drops = status.RootElement.GetProperty("drops").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
            withoutSession = status.RootElement.GetProperty("frames").GetProperty("nat_replies_without_session").GetInt64();
            if (expected.All(r => drops[r] > 0) && withoutSession > 0) break;
            Thread.Sleep(100);
        }
        Assert.All(expected, r => Assert.True(drops[r] > 0, $"{r} not counted: {JsonSerializer.Serialize(drops)}"));
        Assert.True(withoutSession > 0, "reply without a session not counted");

        Assert.False(engine.HasExited);
        var answers = string.Join('\n', lab.Connect(10));
        Assert.DoesNotContain("FAILED", answers);
    }
}
