using System.Net;
using LoadBalancer.Cli.RealServer;

namespace LoadBalancer.Cli.Tests.RealServer;

/// <summary>The real implementation against a fake /proc/sys tree; the only real system access is
/// read-only (<c>ip addr show</c>).</summary>
public sealed class SystemNetworkControlTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"lb-procsys-{Guid.NewGuid():N}");

    public SystemNetworkControlTests()
    {
        foreach (var iface in new[] { "all", "default", "lo", "eth0", "eth0.100" })
        {
            var dir = Path.Combine(_root, "net", "ipv4", "conf", iface);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "arp_ignore"), "0\n");
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ReadSysctl_ExistingAndMissing_ReturnsTrimmedValueOrNull()
    {
        var control = new SystemNetworkControl(_root);
        Assert.Equal("0", control.ReadSysctl("net.ipv4.conf.eth0.arp_ignore"));
        Assert.Null(control.ReadSysctl("net.ipv4.conf.eth9.arp_ignore"));
    }

    [Fact]
    public void WriteSysctl_DottedInterface_WritesTheRightFile()
    {
        var control = new SystemNetworkControl(_root);
        control.WriteSysctl("net.ipv4.conf.eth0/100.arp_ignore", "1");
        Assert.Equal("1\n", File.ReadAllText(Path.Combine(_root, "net", "ipv4", "conf", "eth0.100", "arp_ignore")));
        Assert.Equal("1", control.ReadSysctl(SysctlNames.Ipv4Conf("eth0.100", "arp_ignore")));
    }

    [Fact]
    public void WriteSysctl_Missing_ThrowsAndCreatesNothing()
    {
        var control = new SystemNetworkControl(_root);
        Assert.Throws<NetworkControlException>(() => control.WriteSysctl("net.ipv4.conf.eth0.arp_nope", "1"));
        Assert.False(File.Exists(Path.Combine(_root, "net", "ipv4", "conf", "eth0", "arp_nope")));
    }

    [Fact]
    public void ListInterfaces_ReturnsConfEntries()
    {
        var control = new SystemNetworkControl(_root);
        Assert.Equal(["all", "default", "eth0", "eth0.100", "lo"], control.ListInterfaces());
    }

    [Theory]
    [InlineData("net.ipv4.conf.all.arp_ignore", "net/ipv4/conf/all/arp_ignore")]
    [InlineData("net.ipv4.conf.eth0/100.arp_announce", "net/ipv4/conf/eth0.100/arp_announce")]
    public void SysctlNames_ToRelativePath_SwapsSeparators(string name, string path)
    {
        Assert.Equal(path, SysctlNames.ToRelativePath(name));
    }

    [Theory]
    [InlineData("net..ipv4")]
    [InlineData("net.ipv4.conf.//.x")]
    [InlineData("net.ipv4.conf./.x")]
    public void SysctlNames_ToRelativePath_RejectsEscapes(string name)
    {
        Assert.Throws<ArgumentException>(() => SysctlNames.ToRelativePath(name));
    }

    [Fact]
    public void ParseIpJson_ReadsIpv4AndIpv6Addresses()
    {
        const string json = """
            [{"ifindex":1,"ifname":"lo","addr_info":[
              {"family":"inet","local":"127.0.0.1","prefixlen":8},
              {"family":"inet","local":"10.99.0.100","prefixlen":32},
              {"family":"inet6","local":"::1","prefixlen":128},
              {"family":"inet6","local":"2001:db8::100","prefixlen":128},
              {"family":"inet","local":"2001:db8::1","prefixlen":128},
              {"family":"mpls","local":"10.0.0.1","prefixlen":32}]}]
            """;
        Assert.Equal(
            [new InterfaceAddress(IPAddress.Parse("127.0.0.1"), 8), new InterfaceAddress(IPAddress.Parse("10.99.0.100"), 32),
             new InterfaceAddress(IPAddress.Parse("::1"), 128), new InterfaceAddress(IPAddress.Parse("2001:db8::100"), 128)],
            SystemNetworkControl.ParseIpJson(json));
        Assert.Empty(SystemNetworkControl.ParseIpJson(""));
        Assert.Empty(SystemNetworkControl.ParseIpJson("[]"));
    }

    [Theory]
    [InlineData("add", "10.99.0.100", "addr add 10.99.0.100/32 dev lo")]
    [InlineData("del", "10.99.0.100", "addr del 10.99.0.100/32 dev lo")]
    [InlineData("add", "2001:db8::100", "-6 addr add 2001:db8::100/128 dev lo nodad")]
    [InlineData("del", "2001:db8::100", "-6 addr del 2001:db8::100/128 dev lo")]
    public void AddressCommand_ByFamily_IsTheIpCommandLine(string verb, string address, string expected)
    {
        Assert.Equal(expected, string.Join(' ', SystemNetworkControl.AddressCommand(verb, "lo", InterfaceAddress.Host(IPAddress.Parse(address)))));
    }

    [Fact]
    public void ListAddresses_Loopback_HasBothFamilies()
    {
        // Read-only: lo carries 127.0.0.1/8, and ::1/128 unless IPv6 is disabled on this host.
        var addresses = new SystemNetworkControl(_root).ListAddresses("lo");

        Assert.Contains(new InterfaceAddress(IPAddress.Loopback, 8), addresses);
        var loHasIpv6 = File.Exists("/proc/net/if_inet6") &&
                        File.ReadLines("/proc/net/if_inet6").Any(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1] == "lo");
        if (loHasIpv6) Assert.Contains(new InterfaceAddress(IPAddress.IPv6Loopback, 128), addresses);
    }

    [Fact]
    public void ListAddresses_MissingDevice_ThrowsWithIpMessage()
    {
        var control = new SystemNetworkControl(_root);
        var e = Assert.Throws<NetworkControlException>(() => control.ListAddresses("lbnosuchdev0"));
        Assert.Contains("lbnosuchdev0", e.Message);
    }

    [Fact]
    public void ListAddresses_MissingIpCommand_ThrowsClearError()
    {
        var control = new SystemNetworkControl(_root, ipCommand: "/nonexistent/ip");
        var e = Assert.Throws<NetworkControlException>(() => control.ListAddresses("lo"));
        Assert.Contains("iproute2", e.Message);
    }
}
