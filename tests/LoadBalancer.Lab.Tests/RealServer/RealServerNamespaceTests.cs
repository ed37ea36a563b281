using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.RealServer;

/// <summary><c>lb realserver setup|teardown</c> against a real kernel, in a namespace of its own.</summary>
public sealed class RealServerNamespaceTests : IDisposable
{
    private readonly string _ns = "lt" + Convert.ToHexString(Guid.NewGuid().ToByteArray())[..6].ToLowerInvariant() + "-rs";
    private bool _created;

    private CommandResult Lb(params string[] args) =>
        Shell.InNamespace(_ns, new[] { "dotnet", LabEnvironment.LbDll }.Concat(args), TimeSpan.FromSeconds(60));

    private string Sysctl(string key) => Shell.InNamespace(_ns, ["sysctl", "-n", key]).Stdout.Trim();

    private void Create()
    {
        Assert.Equal(0, Shell.Run("ip", ["netns", "add", _ns]).ExitCode);
        _created = true;
        var prefix = _ns[..8];
        Assert.Equal(0, Shell.InNamespace(_ns, ["ip", "link", "add", prefix + "a", "type", "veth", "peer", "name", prefix + "b"]).ExitCode);
        Shell.InNamespace(_ns, ["ip", "link", "set", "lo", "up"]);
    }

    [LabFact]
    public void SetupThenTeardown_RealNamespace_ChangesThenRestoresExactly()
    {
        Create();
        var veth = _ns[..8] + "a";
        Assert.Equal("0", Sysctl("net.ipv4.conf.all.arp_ignore"));

        var first = Lb("realserver", "setup", "--vip", "10.99.0.100", "--vip", "10.99.0.101");
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Equal("1", Sysctl("net.ipv4.conf.all.arp_ignore"));
        Assert.Equal("2", Sysctl("net.ipv4.conf.all.arp_announce"));
        Assert.Equal("1", Sysctl($"net.ipv4.conf.{veth}.arp_ignore"));
        Assert.Equal("2", Sysctl($"net.ipv4.conf.{veth}.arp_announce"));
        var lo = Shell.InNamespace(_ns, ["ip", "-4", "addr", "show", "dev", "lo"]).Stdout;
        Assert.Contains("10.99.0.100/32", lo);
        Assert.Contains("10.99.0.101/32", lo);

        var second = Lb("realserver", "setup", "--vip", "10.99.0.100", "--vip", "10.99.0.101");
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Contains("already", second.Stdout);
        Assert.DoesNotContain("->", second.Stdout);

        var teardown = Lb("realserver", "teardown", "--vip", "10.99.0.100", "--vip", "10.99.0.101");
        Assert.True(teardown.ExitCode == 0, teardown.Output);
        Assert.Equal("0", Sysctl("net.ipv4.conf.all.arp_ignore"));
        Assert.Equal("0", Sysctl("net.ipv4.conf.all.arp_announce"));
        Assert.Equal("0", Sysctl($"net.ipv4.conf.{veth}.arp_ignore"));
        lo = Shell.InNamespace(_ns, ["ip", "-4", "addr", "show", "dev", "lo"]).Stdout;
        Assert.DoesNotContain("10.99.0.10", lo);
    }

    public void Dispose()
    {
        if (_created) Shell.Run("ip", ["netns", "delete", _ns]);
    }
}
