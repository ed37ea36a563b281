using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Nat;

/// <summary>ICMP errors through NAT, with the real kernel as the client and the backends, over either frame port
/// (<see cref="NatIcmpTests"/>, <see cref="NatIcmpXdpTests"/>).</summary>
public abstract class NatIcmpSuite
{
    /// <summary>The engine's config for the lab.</summary>
    protected abstract string WriteConfig(NamespaceLab lab);

    [LabFact]
    public void UdpToPortWithoutListener_ClientGetsPortUnreachableFromVipQuotingItsDatagram()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = WriteConfig(lab);
        // A UDP service whose backend port has no listener: the backend answers with port unreachable.
        File.AppendAllText(config, $"""
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

            """);
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var pcap = Path.Combine(lab.Dir, "icmp.pcap");

        string result;
        using (PacketCapture.Start(lab.ClientNs, lab.Env["LAB_CLIENT_IF"], pcap, "icmp or udp"))
        {
            result = lab.UdpProbe(lab.Vip, 9999);
        }
        Assert.StartsWith("REFUSED", result);
        var clientPort = result.Split(' ')[1];

        var fields = Shell.Run("tshark", ["-r", pcap, "-Y", "icmp.type == 3 && icmp.code == 3", "-o", "ip.check_checksum:TRUE", "-T", "fields",
            "-e", "ip.src", "-e", "ip.dst", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "ip.checksum.status", "-e", "icmp.checksum.status"]).Stdout.Trim();
        var parts = fields.Split('\t');
        // ip.src/ip.dst list the outer then the quoted header; the quoted UDP header is the client's datagram.
        Assert.Equal($"{lab.Vip},{lab.Env["LAB_CLIENT_ADDR"]}", parts[0]);
        Assert.Equal($"{lab.Env["LAB_CLIENT_ADDR"]},{lab.Vip}", parts[1]);
        Assert.Equal(clientPort, parts[2]);
        Assert.Equal("9999", parts[3]);
        Assert.DoesNotContain("0", parts[4].Split(','));   // 1 = good for both IP headers
        Assert.Equal("1", parts[5]);
    }

    [LabFact]
    public void SmallerMtuBehindBalancer_ClientGetsFragmentationNeeded_UploadStillCompletes()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = WriteConfig(lab);
        // The path behind the balancer narrows to 1400 bytes; the client and the servers still think 1500.
        var back = lab.Env["LAB_BALANCER_BACK_IF"];
        Assert.Equal(0, lab.In(lab.BalancerNs, $"ip link set dev {back} mtu 1400").ExitCode);
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));
        var pcap = Path.Combine(lab.Dir, "mtu.pcap");
        var (file, expected, _) = lab.RandomFile("mtu-upload.bin");

        string answer;
        using (PacketCapture.Start(lab.ClientNs, lab.Env["LAB_CLIENT_IF"], pcap, "icmp"))
            answer = lab.Upload(file, maxTimeSeconds: 60);

        Assert.Equal(expected, answer.Split(' ')[1]);
        var icmp = Shell.Run("tshark", ["-r", pcap, "-Y", "icmp.type == 3 && icmp.code == 4", "-T", "fields", "-e", "ip.src", "-e", "icmp.mtu"]).Stdout;
        var first = icmp.Split('\n', StringSplitOptions.RemoveEmptyEntries).First().Split('\t');
        Assert.StartsWith(lab.Env["LAB_BALANCER_ADDR"], first[0]);
        Assert.Equal("1400", first[1]);
    }
}

public sealed class NatIcmpTests : NatIcmpSuite
{
    protected override string WriteConfig(NamespaceLab lab) => lab.WriteNatConfig();
}

public sealed class NatIcmpXdpTests : NatIcmpSuite
{
    protected override string WriteConfig(NamespaceLab lab) => ConfigFiles.WithTopLevel(lab.WriteNatConfig("lb-xdp.yaml", ipv6: false), "io: af_xdp");
}
