using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Nat;

/// <summary>A full session table refuses new flows (counted) and keeps old ones flowing.</summary>
public sealed class NatSessionTableTests
{
    // 24 UDP flows from 24 sockets: the first 16 fill the table; each flow sends a second round later.
    private const string Client = """
        import socket, sys
        vip = sys.argv[1]
        socks = []
        for i in range(24):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", 0))
            s.settimeout(0.5)
            socks.append(s)
        def ask(s, text):
            s.sendto(text.encode(), (vip, 5353))
            try:
                return s.recvfrom(2048)[0].decode().strip()
            except socket.timeout:
                return "TIMEOUT"
        first = [ask(s, f"first-{i}") for i, s in enumerate(socks)]
        second = [ask(s, f"second-{i}") for i, s in enumerate(socks)]
        for i in range(24):
            print(i, first[i].split(" ")[-1], second[i].split(" ")[-1])
        """;

    [LabFact]
    public void FullTable_NewFlowsDroppedAndCounted_OldFlowsKeepWorking()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = lab.WriteNatConfig();
        File.WriteAllText(config, "session_table_size: 16\n" + File.ReadAllText(config));
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var script = Path.Combine(lab.Dir, "flows.py");
        File.WriteAllText(script, Client);

        var lines = lab.InClient($"/usr/bin/python3 {script} {lab.Vip}", 90).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).ToArray();
        Assert.Equal(24, lines.Length);
        // The 16 flows that got sessions are answered both times; the other 8 never are.
        var answered = lines.Where(l => l[1].StartsWith("first-", StringComparison.Ordinal)).ToArray();
        Assert.Equal(16, answered.Length);
        Assert.All(answered, l => Assert.Equal($"second-{l[0]}", l[2]));
        Assert.All(lines.Except(answered), l => Assert.Equal(["TIMEOUT", "TIMEOUT"], l[1..]));

        using var status = engine.Status();
        Assert.True(status.RootElement.GetProperty("drops").GetProperty("session_table_full").GetInt64() >= 8);
        var echo = status.RootElement.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "echo");
        Assert.Equal(16, echo.GetProperty("sessions").GetInt64());

        // Both sides had an ingress drop while the engine ran; neither survives it.
        var tables = lab.In(lab.BalancerNs, "nft list tables netdev").Stdout;
        Assert.Contains("lb_" + lab.BalancerIf, tables);
        Assert.Contains("lb_" + lab.Env["LAB_BALANCER_BACK_IF"], tables);
        Assert.Equal(0, engine.Stop());
        Assert.DoesNotContain("lb_", lab.In(lab.BalancerNs, "nft list tables netdev").Stdout);
    }
}
