using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Edge;

/// <summary>ICMP errors as an attacker and a bad path send them: forged ones are not relayed, genuine ones reach
/// whoever holds the flow, in every mode and with several workers.</summary>
public sealed class IcmpEdgeTests
{
    private static long Drop(EngineProcess engine, string reason)
    {
        using var status = engine.Status();
        return status.RootElement.GetProperty("drops").GetProperty(reason).GetInt64();
    }

    /// <summary>Anyone on the backend segment can quote a live session; an error addressed to a client-side address that
    /// is not that session's client is not emitted (the balancer would relay arbitrary ICMP otherwise), a genuine one is.</summary>
    [LabFact]
    public void Nat_ForgedErrorFromBackendSegment_NotEmitted_GenuineTranslated()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = lab.WriteNatConfig();
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var client = lab.Env["LAB_CLIENT_ADDR"];
        // A live UDP session: one datagram to the echo service, answered.
        var port = lab.InClient($$"""
            /usr/bin/python3 -c '
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
            s.connect(("{{lab.Vip}}", 5353)); s.send(b"hello"); s.recv(100)
            print(s.getsockname()[1])
            '
            """, 30).Stdout.Trim();
        Assert.Matches("^[0-9]+$", port);
        var backMac = lab.In(lab.BalancerNs, $"cat /sys/class/net/{lab.Env["LAB_BALANCER_BACK_IF"]}/address").Stdout.Trim();
        // From a real server's namespace: an error quoting the session (as the backend received it) for each backend,
        // since the client cannot tell which one answered; the one without a session is simply not ours.
        File.WriteAllText(Path.Combine(lab.Dir, "icmp.py"), $$"""
            import sys
            from scapy.all import Ether, IP, UDP, ICMP, sendp
            iface, to = sys.argv[1], sys.argv[2]
            frames = [Ether(dst="{{backMac}}")/IP(src=b, dst=to)/ICMP(type=3, code=3)/IP(src="{{client}}", dst=b)/UDP(sport={{port}}, dport=5353)
                      for b in ("10.99.4.11", "10.99.4.12")]
            sendp(frames, iface=iface, verbose=False)
            """);
        var serverNs = lab.ServerNamespaces[0];
        var serverIf = lab.Env["LAB_SERVER_IFS"].Split(' ')[0];
        var pcap = Path.Combine(lab.Dir, "front.pcap");
        using (PacketCapture.Start(lab.RouterNs, lab.RouterLanIf, pcap, "icmp"))
        {
            var forged = lab.In(serverNs, $"/usr/bin/python3 {lab.Dir}/icmp.py {serverIf} 10.99.2.77", 60);
            Assert.True(forged.ExitCode == 0, forged.Output);
            Retry.Until(() => Drop(engine, "icmp_forged") >= 1, TimeSpan.FromSeconds(10), "the forged error counted");
            var genuine = lab.In(serverNs, $"/usr/bin/python3 {lab.Dir}/icmp.py {serverIf} {client}", 60);
            Assert.True(genuine.ExitCode == 0, genuine.Output);
            Retry.Until(() => Shell.Run("tshark", ["-r", pcap, "-Y", $"icmp && ip.dst == {client}"]).Stdout.Trim().Length > 0,
                TimeSpan.FromSeconds(10), "the genuine error relayed to the client");
        }
        var seen = Shell.Run("tshark", ["-r", pcap, "-Y", "icmp.type == 3", "-T", "fields", "-e", "ip.src", "-e", "ip.dst"]).Stdout.Trim().Split('\n');
        Assert.DoesNotContain(seen, l => l.Contains("10.99.2.77", StringComparison.Ordinal));
        // Outer VIP -> client, quoting client -> VIP: translated as the session's own.
        Assert.Contains($"{lab.Vip},{client}\t{client},{lab.Vip}", seen);
        Assert.Equal(1, Drop(engine, "icmp_forged"));
    }

    /// <summary>PMTU discovery through DR: a router on the reply path (servers → router → client) tells the VIP that the
    /// reply did not fit; the error reaches the real server that serves the flow, and no other.</summary>
    [LabFact]
    public void Dr_FragmentationNeededToVip_ReachesTheFlowsServerOnly()
    {
        using var lab = NamespaceLab.Up(3);
        var config = lab.WriteDrConfig();
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var client = lab.Env["LAB_CLIENT_ADDR"];
        var go = Path.Combine(lab.Dir, "go");
        // A connection held open: its port and the server that answered it.
        var info = Path.Combine(lab.Dir, "conn.txt");
        var holder = lab.InClientBackground($$"""
            /usr/bin/python3 -c '
            import os, socket, time
            s = socket.create_connection(("{{lab.Vip}}", 80), timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = s.recv(4096).split(b"\r\n\r\n", 1)[1].decode().strip()
            open("{{info}}", "w").write(f"{s.getsockname()[1]} {data}\n")
            while not os.path.exists("{{go}}"): time.sleep(0.1)
            '
            """);
        Retry.Until(() => File.Exists(info) && File.ReadAllText(info).EndsWith('\n'), TimeSpan.FromSeconds(15), "the connection open");
        var parts = File.ReadAllText(info).Trim().Split(' ');
        var (port, server) = (parts[0], parts[1]);
        File.WriteAllText(Path.Combine(lab.Dir, "fragneeded.py"), $$"""
            from scapy.all import IP, TCP, ICMP, send
            reply = IP(src="{{lab.Vip}}", dst="{{client}}", flags="DF")/TCP(sport=80, dport={{port}}, flags="A")
            send(IP(src="{{lab.Env["LAB_ROUTER_LAN_ADDR"]}}", dst="{{lab.Vip}}")/ICMP(type=3, code=4, nexthopmtu=1200)/bytes(reply)[:28], verbose=False)
            """);

        var captures = new List<(string Name, string Pcap, PacketCapture Capture)>();
        try
        {
            var ifs = lab.Env["LAB_SERVER_IFS"].Split(' ');
            for (var i = 0; i < lab.ServerNamespaces.Length; i++)
            {
                var pcap = Path.Combine(lab.Dir, $"{lab.ServerNames[i]}.pcap");
                captures.Add((lab.ServerNames[i], pcap, PacketCapture.Start(lab.ServerNamespaces[i], ifs[i], pcap, "icmp")));
            }
            var sent = lab.In(lab.RouterNs, $"/usr/bin/python3 {lab.Dir}/fragneeded.py", 60);
            Assert.True(sent.ExitCode == 0, sent.Output);
            var target = captures.Single(c => c.Name == server);
            Retry.Until(() => Shell.Run("tshark", ["-r", target.Pcap, "-Y", "icmp.type == 3 && icmp.code == 4"]).Stdout.Trim().Length > 0,
                TimeSpan.FromSeconds(10), $"the error at {server}");
        }
        finally
        {
            foreach (var c in captures) c.Capture.Dispose();
            File.WriteAllText(go, "");
            holder();
        }
        foreach (var (name, pcap, _) in captures)
        {
            var fields = Shell.Run("tshark", ["-r", pcap, "-Y", "icmp.type == 3 && icmp.code == 4", "-T", "fields", "-e", "icmp.mtu", "-e", "tcp.dstport"]).Stdout.Trim();
            if (name == server) Assert.Equal($"1200\t{port}", fields);
            else Assert.True(fields.Length == 0, $"{name} got the error meant for {server}: {fields}");
        }
    }

    /// <summary>NAT with two workers: the fanout keys an ICMP error on the flow it quotes, so every error meets the worker
    /// holding its session (before: the ICMP type, code and checksum were read as ports, about half were lost).</summary>
    [LabFact]
    public void Nat_TwoWorkers_PortUnreachableTranslatedForEveryFlow()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = lab.WriteNatConfig();
        File.WriteAllText(config, File.ReadAllText(config).Replace("workers: 1", "workers: 2") + $"""
              - name: void
                vip: {lab.Vip}
                port: 9999
                protocol: udp
                mode: nat
                interface: {lab.BalancerIf}
                backend_interface: {lab.Env["LAB_BALANCER_BACK_IF"]}
                gateway: {lab.Env["LAB_ROUTER_FRONT_ADDR"]}
                backends:
                  - {"{"}name: rs1, address: 10.99.4.11{"}"}
                  - {"{"}name: rs2, address: 10.99.4.12{"}"}

            """);
        // Each flow gets its error: no per-destination ICMP rate limit on the servers.
        foreach (var ns in lab.ServerNamespaces) Assert.Equal(0, lab.In(ns, "sysctl -qw net.ipv4.icmp_ratelimit=0").ExitCode);
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));

        var result = lab.InClient($$"""
            /usr/bin/python3 -c '
            import socket
            refused = 0
            for i in range(20):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
                s.connect(("{{lab.Vip}}", 9999)); s.send(b"anyone")
                try:
                    s.recv(100)
                except ConnectionRefusedError:
                    refused += 1
                except socket.timeout:
                    pass
            print(refused)
            '
            """, 90).Stdout.Trim();

        Assert.Equal("20", result);
        using var status = engine.Status();
        Assert.All(status.RootElement.GetProperty("worker_frames").EnumerateArray(), w => Assert.True(w.GetProperty("rx").GetInt64() > 0));
    }
}
