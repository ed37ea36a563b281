using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.LeastPrivilege;

/// <summary>The NAT lab's engine as the service user with CAP_NET_RAW and CAP_NET_ADMIN only: it serves through the
/// VIP, holds its ingress drops while it runs and removes them on SIGTERM.</summary>
public sealed class NonRootNatTests(NonRootNatLab fixture) : IClassFixture<NonRootNatLab>
{
    [LabFact]
    public void Run_ServiceUserWithNetRawAndNetAdmin_ServesNatAndCleansUp()
    {
        var (lab, accounts) = (fixture.Lab, fixture.Accounts);
        var socket = Path.Combine(accounts.RuntimeDirectory(lab, "run-nat"), "lb.sock");
        var config = accounts.Rewrite(lab.WriteNatConfig("run-nat.yaml"), socket);
        string[] tables = [$"lb_{lab.Prefix}b0", $"lb_{lab.Prefix}b1"];
        using var engine = accounts.StartEngine(lab, lab.BalancerNs, config, socket);

        var during = lab.In(lab.BalancerNs, "nft list tables netdev").Stdout;
        Assert.All(tables, t => Assert.Contains(t, during));
        Assert.Equal(["200", "200", "200", "200"], NonRootClusterIpTests.HttpCodes(lab, 4));

        Assert.Equal(0, engine.Stop());
        var after = lab.In(lab.BalancerNs, "nft list tables netdev").Stdout;
        Assert.All(tables, t => Assert.DoesNotContain(t, after));
    }
}

/// <summary>The three-node CLUSTERIP lab with every node's engine run as the service user with CAP_NET_RAW and
/// CAP_NET_ADMIN only: TAP device (and its rp_filter), multicast membership, peer heartbeats and ingress drops all
/// work without root; the client is served through the VIP; SIGTERM removes each node's drop.</summary>
public sealed class NonRootClusterIpTests(NonRootClusterLab fixture) : IClassFixture<NonRootClusterLab>
{
    private const string Tun = "/dev/net/tun";

    /// <summary>Without access to /dev/net/tun (its mode 0600, as on a machine without udev), a CLUSTERIP engine that
    /// holds both capabilities exits 1 before it touches the kernel, saying what its user lacks.</summary>
    [LabFact]
    public void Run_TunNotOpenToTheUser_ExitsOneSayingSo()
    {
        var (lab, accounts) = (fixture.Lab, fixture.Accounts);
        var tunMode = File.GetUnixFileMode(Tun);
        try
        {
            File.SetUnixFileMode(Tun, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var socket = Path.Combine(accounts.RuntimeDirectory(lab, "notun-node1"), "lb.sock");
            var config = accounts.Rewrite(lab.WriteClusterConfig(1), socket);

            var run = accounts.RunEngine($"{lab.Prefix}-n1", config, "net_raw", "net_admin");

            Assert.Equal(1, run.ExitCode);
            Assert.StartsWith("lb run needs read and write access to /dev/net/tun for the CLUSTERIP TAP device (open(/dev/net/tun): Permission denied", run.Stderr);
            Assert.DoesNotContain($"lb_{lab.Prefix}n1", lab.In($"{lab.Prefix}-n1", "nft list tables netdev").Stdout);
        }
        finally
        {
            File.SetUnixFileMode(Tun, tunMode);
        }
    }

    /// <summary>The HTTP status of <paramref name="count"/> new connections from the client to the VIP.</summary>
    internal static string[] HttpCodes(NamespaceLab lab, int count) =>
        lab.InClient($"for i in $(seq {count}); do curl -s --noproxy '*' --max-time 3 -o /dev/null -w '%{{http_code}}\\n' http://{lab.Vip}/; done",
                count * 5 + 10).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [LabFact]
    public void Run_EveryNodeAsServiceUser_ServesClusterIpAndCleansUp()
    {
        var (lab, accounts) = (fixture.Lab, fixture.Accounts);
        var engines = new List<EngineProcess>();
        // The TAP's node must be open to the engine's user: udev makes it 0666, as Debian ships it; a machine
        // without udev (this lab's VM) may have it 0600. Restored below.
        var tunMode = File.GetUnixFileMode(Tun);
        try
        {
            File.SetUnixFileMode(Tun, tunMode | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
            for (var n = 1; n <= 3; n++)
            {
                var socket = Path.Combine(accounts.RuntimeDirectory(lab, $"run-node{n}"), "lb.sock");
                engines.Add(accounts.StartEngine(lab, Node(n), accounts.Rewrite(lab.WriteClusterConfig(n), socket), socket));
            }
            Retry.Until(() => engines.All(e => AllAlive(e, 3)), TimeSpan.FromSeconds(30), "every node seeing three nodes alive");

            for (var n = 1; n <= 3; n++) Assert.Contains($"lb_{lab.Prefix}n{n}", lab.In(Node(n), "nft list tables netdev").Stdout);
            Assert.Equal(Enumerable.Repeat("200", 6), HttpCodes(lab, 6));

            foreach (var engine in engines) Assert.Equal(0, engine.Stop());
            for (var n = 1; n <= 3; n++) Assert.DoesNotContain($"lb_{lab.Prefix}n{n}", lab.In(Node(n), "nft list tables netdev").Stdout);
        }
        finally
        {
            foreach (var engine in engines) engine.Dispose();
            File.SetUnixFileMode(Tun, tunMode);
        }

        string Node(int n) => $"{lab.Prefix}-n{n}";
    }

    private static bool AllAlive(EngineProcess engine, int nodes)
    {
        using var status = engine.Status();
        return status.RootElement.GetProperty("services").EnumerateArray()
            .All(s => s.GetProperty("nodes").EnumerateArray().Count(n => n.GetProperty("alive").GetBoolean()) == nodes);
    }
}
