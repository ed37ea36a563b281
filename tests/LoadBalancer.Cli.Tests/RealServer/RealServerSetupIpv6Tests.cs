using System.Net;
using LoadBalancer.Cli.RealServer;

namespace LoadBalancer.Cli.Tests.RealServer;

/// <summary><c>lb realserver</c> with IPv6 VIPs: a /128 on the device and no sysctl, alone or beside IPv4 VIPs.</summary>
public sealed class RealServerSetupIpv6Tests : IDisposable
{
    private const string Vip6 = "2001:db8::100";
    private const string Vip6b = "2001:db8::101";
    private const string Vip4 = "10.99.0.100";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"lb-rs6-{Guid.NewGuid():N}");
    private readonly FakeNetworkControl _host = FakeNetworkControl.WithInterfaces("eth0");

    public RealServerSetupIpv6Tests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string StatePath => Path.Combine(_dir, "realserver.json");

    private (int Code, string[] Lines) Setup(params string[] vips) => Run(RealServerSetup.Setup, vips);

    private (int Code, string[] Lines) Teardown(params string[] vips) => Run(RealServerSetup.Teardown, vips);

    private (int Code, string[] Lines) Run(Func<IReadOnlyList<string>, string, TextWriter, INetworkControl?, string?, Func<bool>?, int> command, string[] vips)
    {
        var output = new StringWriter();
        var code = command(vips, "lo", output, _host, StatePath, () => true);
        return (code, output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    private static InterfaceAddress Host(string ip) => InterfaceAddress.Host(IPAddress.Parse(ip));

    [Fact]
    public void Setup_Ipv6Vip_AddsA128AndSetsNoSysctl()
    {
        var sysctls = string.Join(",", _host.Sysctls.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}"));

        var (code, lines) = Setup(Vip6);

        Assert.Equal(0, code);
        Assert.Equal(
        [
            "IPv6 VIPs only: no sysctl to set (neighbour discovery answers only for addresses on the receiving interface)",
            "added 2001:db8::100/128 to lo",
        ], lines);
        Assert.Equal(["add 2001:db8::100/128 dev lo"], _host.Changes);
        Assert.Equal([new InterfaceAddress(IPAddress.Parse(Vip6), 128)], _host.Addresses["lo"]);
        Assert.Equal(sysctls, string.Join(",", _host.Sysctls.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}")));
    }

    [Fact]
    public void Setup_Ipv6VipSpelledLong_IsAddedCanonically()
    {
        Setup("2001:0DB8:0:0:0:0:0:0100");

        Assert.Equal([Host(Vip6)], _host.Addresses["lo"]);
    }

    [Fact]
    public void Setup_RunTwice_SecondRunChangesNothing()
    {
        Setup(Vip6, Vip6b);
        var changes = _host.Changes.Count;
        var state = File.ReadAllText(StatePath);

        var (code, lines) = Setup(Vip6, Vip6b);

        Assert.Equal(0, code);
        Assert.Equal(changes, _host.Changes.Count);
        Assert.Equal(state, File.ReadAllText(StatePath));
        Assert.Equal("2001:db8::100/128 already on lo", lines[1]);
        Assert.Equal("2001:db8::101/128 already on lo", lines[2]);
    }

    [Fact]
    public void Setup_Ipv6VipPresentWithOtherPrefix_IsNotAdded()
    {
        _host.Addresses["lo"].Add(new InterfaceAddress(IPAddress.Parse(Vip6), 64));

        var (code, lines) = Setup(Vip6);

        Assert.Equal(0, code);
        Assert.Equal("2001:db8::100 already on lo (as 2001:db8::100/64); not adding 2001:db8::100/128", lines[^1]);
        Assert.Empty(_host.Changes);
    }

    [Fact]
    public void Teardown_AfterIpv6Setup_RemovesThe128AndRestoresTheHost()
    {
        var before = _host.Snapshot();
        Setup(Vip6);

        var (code, lines) = Teardown(Vip6);

        Assert.Equal(0, code);
        Assert.Equal(["removed 2001:db8::100/128 from lo"], lines);
        Assert.Equal("del 2001:db8::100/128 dev lo", _host.Changes[^1]);
        Assert.Equal(before, _host.Snapshot());
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void Teardown_Twice_SecondRunChangesNothing()
    {
        Setup(Vip6);
        Teardown(Vip6);
        var changes = _host.Changes.Count;

        var (code, lines) = Teardown(Vip6);

        Assert.Equal(0, code);
        Assert.Equal(changes, _host.Changes.Count);
        Assert.Equal(["2001:db8::100/128 on lo was not added by lb realserver setup; left alone"], lines);
    }

    [Fact]
    public void Setup_MixedVips_SetsArpSysctlsAndAddsBoth()
    {
        var (code, lines) = Setup(Vip4, Vip6);

        Assert.Equal(0, code);
        Assert.Equal("1", _host.Sysctls["net.ipv4.conf.all.arp_ignore"]);
        Assert.Equal("2", _host.Sysctls["net.ipv4.conf.eth0.arp_announce"]);
        Assert.Equal(["added 10.99.0.100/32 to lo", "added 2001:db8::100/128 to lo"], lines[^2..]);
        Assert.Equal([Host(Vip4), Host(Vip6)], _host.Addresses["lo"]);
    }

    [Fact]
    public void Teardown_Ipv4VipOfAMix_RestoresSysctlsThoughAnIpv6VipStays()
    {
        var before = _host.Snapshot();
        Setup(Vip4, Vip6);

        var (_, first) = Teardown(Vip4);

        // The ARP sysctls served the IPv4 VIP only.
        Assert.Equal("removed 10.99.0.100/32 from lo", first[0]);
        Assert.Equal("restored net.ipv4.conf.all.arp_ignore 1 -> 0", first[^1]);
        Assert.Equal("0", _host.Sysctls["net.ipv4.conf.all.arp_ignore"]);
        Assert.Equal([Host(Vip6)], _host.Addresses["lo"]);

        var (code, second) = Teardown(Vip6);

        Assert.Equal(0, code);
        Assert.Equal(["removed 2001:db8::100/128 from lo"], second);
        Assert.Equal(before, _host.Snapshot());
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void Teardown_Ipv6VipOfAMix_KeepsSysctlsForTheIpv4Vip()
    {
        Setup(Vip4, Vip6);

        var (code, lines) = Teardown(Vip6);

        Assert.Equal(0, code);
        Assert.Equal(["removed 2001:db8::100/128 from lo", "arp sysctls kept: setup still manages 10.99.0.100/32 on lo"], lines);
        Assert.Equal("1", _host.Sysctls["net.ipv4.conf.all.arp_ignore"]);
        Assert.Equal([Host(Vip4)], _host.Addresses["lo"]);
    }

    [Fact]
    public void Setup_Ipv6VipOnAnotherDevice_AddsItAndWarnsOfNeighbourDiscovery()
    {
        var output = new StringWriter();

        var code = RealServerSetup.Setup([Vip6], "eth0", output, _host, StatePath, () => true);

        Assert.Equal(0, code);
        Assert.Contains("note: an IPv6 VIP on eth0 is answered by neighbour discovery if eth0 is on the balancer's link; keep it on lo or a dummy device",
            output.ToString().Split(Environment.NewLine));
        Assert.Equal([Host(Vip6)], _host.Addresses["eth0"]);
    }
}
