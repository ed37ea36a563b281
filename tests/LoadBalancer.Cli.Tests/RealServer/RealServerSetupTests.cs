using System.Net;
using LoadBalancer.Cli.RealServer;

namespace LoadBalancer.Cli.Tests.RealServer;

public sealed class RealServerSetupTests : IDisposable
{
    private const string Vip = "10.99.0.100";
    private const string Vip2 = "10.99.0.101";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"lb-rs-{Guid.NewGuid():N}");
    private readonly FakeNetworkControl _host = FakeNetworkControl.WithInterfaces("eth0", "eth1");

    public RealServerSetupTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string StatePath => Path.Combine(_dir, "state", "realserver.json");

    private (int Code, string[] Lines) Setup(params string[] vips) => SetupOn("lo", vips);

    private (int Code, string[] Lines) SetupOn(string dev, params string[] vips)
    {
        var output = new StringWriter();
        var code = RealServerSetup.Setup(vips, dev, output, _host, StatePath, isPrivileged: () => true);
        return (code, SplitLines(output));
    }

    private (int Code, string[] Lines) Teardown(params string[] vips) => TeardownOn("lo", vips);

    private (int Code, string[] Lines) TeardownOn(string dev, params string[] vips)
    {
        var output = new StringWriter();
        var code = RealServerSetup.Teardown(vips, dev, output, _host, StatePath, isPrivileged: () => true);
        return (code, SplitLines(output));
    }

    private static string[] SplitLines(StringWriter w) => w.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);

    private static InterfaceAddress Host32(string ip) => InterfaceAddress.Host(IPAddress.Parse(ip));

    [Fact]
    public void Setup_FreshHost_SetsArpSysctlsAndAddsVip()
    {
        var (code, lines) = Setup(Vip);

        Assert.Equal(0, code);
        Assert.Equal(
        [
            "set net.ipv4.conf.all.arp_ignore 0 -> 1",
            "set net.ipv4.conf.all.arp_announce 0 -> 2",
            "set net.ipv4.conf.eth0.arp_ignore 0 -> 1",
            "set net.ipv4.conf.eth0.arp_announce 0 -> 2",
            "set net.ipv4.conf.eth1.arp_ignore 0 -> 1",
            "set net.ipv4.conf.eth1.arp_announce 0 -> 2",
            "added 10.99.0.100/32 to lo",
        ], lines);
        Assert.Equal("0", _host.Sysctls["net.ipv4.conf.lo.arp_ignore"]);
        Assert.Equal("0", _host.Sysctls["net.ipv4.conf.default.arp_ignore"]);
        Assert.Equal([Host32(Vip)], _host.Addresses["lo"]);
        Assert.True(File.Exists(StatePath));
    }

    [Fact]
    public void Setup_RunTwice_SecondRunChangesNothing()
    {
        Setup(Vip, Vip2);
        var changes = _host.Changes.Count;
        var state = File.ReadAllText(StatePath);

        var (code, lines) = Setup(Vip, Vip2);

        Assert.Equal(0, code);
        Assert.Equal(changes, _host.Changes.Count);
        Assert.Equal(state, File.ReadAllText(StatePath));
        Assert.Equal(
        [
            "net.ipv4.conf.all.arp_ignore already 1",
            "net.ipv4.conf.all.arp_announce already 2",
            "net.ipv4.conf.eth0.arp_ignore already 1",
            "net.ipv4.conf.eth0.arp_announce already 2",
            "net.ipv4.conf.eth1.arp_ignore already 1",
            "net.ipv4.conf.eth1.arp_announce already 2",
            "10.99.0.100/32 already on lo",
            "10.99.0.101/32 already on lo",
        ], lines);
    }

    [Fact]
    public void Teardown_AfterSetup_RestoresTheHostExactly()
    {
        _host.Sysctls["net.ipv4.conf.eth1.arp_announce"] = "1";
        var before = _host.Snapshot();
        Setup(Vip);

        var (code, lines) = Teardown(Vip);

        Assert.Equal(0, code);
        Assert.Equal(before, _host.Snapshot());
        Assert.Equal(
        [
            "removed 10.99.0.100/32 from lo",
            "restored net.ipv4.conf.eth1.arp_announce 2 -> 1",
            "restored net.ipv4.conf.eth1.arp_ignore 1 -> 0",
            "restored net.ipv4.conf.eth0.arp_announce 2 -> 0",
            "restored net.ipv4.conf.eth0.arp_ignore 1 -> 0",
            "restored net.ipv4.conf.all.arp_announce 2 -> 0",
            "restored net.ipv4.conf.all.arp_ignore 1 -> 0",
        ], lines);
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void Teardown_Twice_SecondRunChangesNothing()
    {
        Setup(Vip);
        Teardown(Vip);
        var changes = _host.Changes.Count;

        var (code, lines) = Teardown(Vip);

        Assert.Equal(0, code);
        Assert.Equal(changes, _host.Changes.Count);
        Assert.Equal(["10.99.0.100/32 on lo was not added by lb realserver setup; left alone"], lines);
    }

    [Fact]
    public void Setup_SysctlsAlreadySet_TeardownLeavesThemSet()
    {
        foreach (var iface in new[] { "all", "eth0", "eth1" })
        {
            _host.Sysctls[$"net.ipv4.conf.{iface}.arp_ignore"] = "1";
            _host.Sysctls[$"net.ipv4.conf.{iface}.arp_announce"] = "2";
        }

        Setup(Vip);
        var (code, lines) = Teardown(Vip);

        Assert.Equal(0, code);
        Assert.Equal(["removed 10.99.0.100/32 from lo"], lines);
        Assert.Equal("1", _host.Sysctls["net.ipv4.conf.all.arp_ignore"]);
        Assert.Equal("2", _host.Sysctls["net.ipv4.conf.eth0.arp_announce"]);
    }

    [Fact]
    public void Setup_VipAlreadyPresent_IsNotAddedAndTeardownLeavesIt()
    {
        _host.Addresses["lo"].Add(Host32(Vip));

        var (_, setupLines) = Setup(Vip);
        var (code, lines) = Teardown(Vip);

        Assert.Contains("10.99.0.100/32 already on lo", setupLines);
        Assert.DoesNotContain(_host.Changes, c => c.Contains("10.99.0.100"));
        Assert.Equal(0, code);
        Assert.Equal("10.99.0.100/32 on lo was not added by lb realserver setup; left alone", lines[0]);
        Assert.Equal([Host32(Vip)], _host.Addresses["lo"]);
    }

    [Fact]
    public void Setup_VipPresentWithOtherPrefix_IsNotAdded()
    {
        _host.Addresses["lo"].Add(new InterfaceAddress(IPAddress.Parse(Vip), 24));

        var (code, lines) = Setup(Vip);

        Assert.Equal(0, code);
        Assert.Equal("10.99.0.100 already on lo (as 10.99.0.100/24); not adding 10.99.0.100/32", lines[^1]);
        Assert.Single(_host.Addresses["lo"]);
    }

    [Fact]
    public void Teardown_WithoutAnySetup_ChangesNothing()
    {
        _host.Addresses["lo"].Add(Host32(Vip));
        var before = _host.Snapshot();

        var (code, lines) = Teardown(Vip);

        Assert.Equal(0, code);
        Assert.Equal(["10.99.0.100/32 on lo was not added by lb realserver setup; left alone"], lines);
        Assert.Equal(before, _host.Snapshot());
        Assert.Empty(_host.Changes);
    }

    [Fact]
    public void Teardown_OneOfTwoVips_KeepsSysctlsUntilTheLastVipGoes()
    {
        var before = _host.Snapshot();
        Setup(Vip, Vip2);

        var (_, first) = Teardown(Vip);
        Assert.Equal(["removed 10.99.0.100/32 from lo", "arp sysctls kept: setup still manages 10.99.0.101/32 on lo"], first);
        Assert.Equal("1", _host.Sysctls["net.ipv4.conf.all.arp_ignore"]);
        Assert.Equal([Host32(Vip2)], _host.Addresses["lo"]);

        var (code, second) = Teardown(Vip2);
        Assert.Equal(0, code);
        Assert.Equal("removed 10.99.0.101/32 from lo", second[0]);
        Assert.Equal(7, second.Length);
        Assert.Equal(before, _host.Snapshot());
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void Teardown_OtherDevice_DoesNotTouchVipAddedToLo()
    {
        _host.Addresses["dummy0"] = new List<InterfaceAddress>();
        Setup(Vip);

        var (code, lines) = TeardownOn("dummy0", Vip);

        Assert.Equal(0, code);
        Assert.Equal("10.99.0.100/32 on dummy0 was not added by lb realserver setup; left alone", lines[0]);
        Assert.Equal([Host32(Vip)], _host.Addresses["lo"]);
        Assert.Equal("1", _host.Sysctls["net.ipv4.conf.all.arp_ignore"]);
    }

    [Fact]
    public void Teardown_VipRemovedByHand_ForgetsItAndRestoresSysctls()
    {
        var before = _host.Snapshot();
        Setup(Vip);
        _host.Addresses["lo"].Clear();

        var (code, lines) = Teardown(Vip);

        Assert.Equal(0, code);
        Assert.Equal("10.99.0.100/32 is no longer on lo; nothing to remove", lines[0]);
        Assert.Equal(before, _host.Snapshot());
    }

    [Fact]
    public void Teardown_SysctlChangedSinceSetup_LeavesItAlone()
    {
        Setup(Vip);
        _host.Sysctls["net.ipv4.conf.eth0.arp_ignore"] = "3";

        var (code, lines) = Teardown(Vip);

        Assert.Equal(0, code);
        Assert.Contains("net.ipv4.conf.eth0.arp_ignore is 3, not the 1 setup set (changed since); left alone", lines);
        Assert.Equal("3", _host.Sysctls["net.ipv4.conf.eth0.arp_ignore"]);
        Assert.Equal("0", _host.Sysctls["net.ipv4.conf.all.arp_ignore"]);
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void Teardown_InterfaceRemovedSinceSetup_SkipsIt()
    {
        Setup(Vip);
        _host.Sysctls.Remove("net.ipv4.conf.eth1.arp_ignore");
        _host.Sysctls.Remove("net.ipv4.conf.eth1.arp_announce");

        var (code, lines) = Teardown(Vip);

        Assert.Equal(0, code);
        Assert.Contains("net.ipv4.conf.eth1.arp_ignore no longer exists (interface removed); nothing to restore", lines);
        Assert.Equal("0", _host.Sysctls["net.ipv4.conf.eth0.arp_ignore"]);
    }

    [Fact]
    public void Setup_StricterArpIgnore_IsLeftAlone()
    {
        _host.Sysctls["net.ipv4.conf.eth0.arp_ignore"] = "2";

        var (_, lines) = Setup(Vip);
        Teardown(Vip);

        Assert.Contains("net.ipv4.conf.eth0.arp_ignore already 2 (at least as strict as 1); left alone", lines);
        Assert.DoesNotContain(_host.Changes, c => c.StartsWith("sysctl net.ipv4.conf.eth0.arp_ignore", StringComparison.Ordinal));
    }

    [Fact]
    public void Setup_InterfaceWithDotInName_UsesSysctlSlashNotation()
    {
        var host = FakeNetworkControl.WithInterfaces("eth0.100");
        var output = new StringWriter();

        RealServerSetup.Setup([Vip], "lo", output, host, StatePath, () => true);

        Assert.Contains("set net.ipv4.conf.eth0/100.arp_ignore 0 -> 1", SplitLines(output));
        Assert.Equal("1", host.Sysctls["net.ipv4.conf.eth0/100.arp_ignore"]);
    }

    [Fact]
    public void Setup_Unprivileged_ChangesNothingAndReturnsOne()
    {
        var before = _host.Snapshot();
        var output = new StringWriter();

        var code = RealServerSetup.Setup([Vip], "lo", output, _host, StatePath, isPrivileged: () => false);

        Assert.Equal(1, code);
        Assert.Equal(["lb realserver setup needs root (CAP_NET_ADMIN) to change sysctls and addresses; nothing was changed"], SplitLines(output));
        Assert.Equal(before, _host.Snapshot());
        Assert.Empty(_host.Changes);
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void Teardown_Unprivileged_ChangesNothingAndReturnsOne()
    {
        Setup(Vip);
        var before = _host.Snapshot();
        var output = new StringWriter();

        var code = RealServerSetup.Teardown([Vip], "lo", output, _host, StatePath, isPrivileged: () => false);

        Assert.Equal(1, code);
        Assert.Contains("needs root", output.ToString());
        Assert.Equal(before, _host.Snapshot());
    }

    [Theory]
    [InlineData("10.99.0.300", "error: '10.99.0.300' is not an IPv4 or IPv6 address")]
    [InlineData("10.99.0", "error: '10.99.0' is not an IPv4 or IPv6 address")]
    [InlineData("", "error: '' is not an IPv4 or IPv6 address")]
    [InlineData("127.0.0.1", "error: VIP 127.0.0.1 is a loopback address")]
    [InlineData("fd00::100%eth0", "error: VIP 'fd00::100%eth0' has a scope id (%...); give the address without it")]
    [InlineData("::1", "error: VIP ::1 is the loopback address")]
    [InlineData("fe80::100", "error: VIP fe80::100 is a link-local address (fe80::/10); use a global or unique local (fd00::/8) address")]
    [InlineData("::ffff:10.99.0.100", "error: VIP ::ffff:10.99.0.100 is an IPv4-mapped IPv6 address; write it as IPv4 (10.99.0.100)")]
    [InlineData("[fd00::100]", "error: '[fd00::100]' is not an IPv4 or IPv6 address")]
    public void Setup_InvalidVip_ReturnsTwoAndChangesNothing(string vip, string message)
    {
        var output = new StringWriter();

        var code = RealServerSetup.Setup([Vip, vip], "lo", output, _host, StatePath, isPrivileged: () => true);

        Assert.Equal(2, code);
        Assert.Equal([message, "nothing was changed"], SplitLines(output));
        Assert.Empty(_host.Changes);
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void Setup_InvalidVipWhenUnprivileged_ReportsTheVip()
    {
        var output = new StringWriter();
        var code = RealServerSetup.Setup(["nope"], "lo", output, _host, StatePath, isPrivileged: () => false);
        Assert.Equal(2, code);
        Assert.StartsWith("error: 'nope' is not an IPv4 or IPv6 address", output.ToString());
    }

    [Fact]
    public void Teardown_InvalidVip_ReturnsTwoAndChangesNothing()
    {
        Setup(Vip);
        var before = _host.Snapshot();

        var (code, lines) = Teardown(Vip, "10.99.0.x");

        Assert.Equal(2, code);
        Assert.Equal(["error: '10.99.0.x' is not an IPv4 or IPv6 address", "nothing was changed"], lines);
        Assert.Equal(before, _host.Snapshot());
    }

    [Fact]
    public void Setup_NoVips_ReturnsTwo()
    {
        var (code, lines) = Setup();
        Assert.Equal(2, code);
        Assert.Equal(["error: give at least one VIP with --vip ADDR", "nothing was changed"], lines);
    }

    [Fact]
    public void Setup_InvalidDeviceName_ReturnsTwo()
    {
        var (code, lines) = SetupOn("../etc", Vip);
        Assert.Equal(2, code);
        Assert.Equal("error: '../etc' is not a valid interface name", lines[0]);
        Assert.Empty(_host.Changes);
    }

    [Fact]
    public void Setup_MissingDevice_FailsBeforeChangingAnything()
    {
        var (code, lines) = SetupOn("dummy9", Vip);

        Assert.Equal(1, code);
        Assert.Equal(["error: Device \"dummy9\" does not exist.", "setup stopped; nothing was changed"], lines);
        Assert.Empty(_host.Changes);
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void Setup_AddressFailure_RecordsOnlyWhatWasDoneAndTeardownUndoesIt()
    {
        var before = _host.Snapshot();
        _host.FailOn = "add 10.99.0.101";

        var (code, lines) = Setup(Vip, Vip2);

        Assert.Equal(1, code);
        Assert.Contains("added 10.99.0.100/32 to lo", lines);
        Assert.Contains("error: injected failure: add 10.99.0.101/32 dev lo", lines);
        Assert.DoesNotContain("10.99.0.101", File.ReadAllText(StatePath));

        var (teardownCode, teardownLines) = Teardown(Vip, Vip2);
        Assert.Equal(0, teardownCode);
        Assert.Contains("10.99.0.101/32 on lo was not added by lb realserver setup; left alone", teardownLines);
        Assert.Equal(before, _host.Snapshot());
    }

    [Fact]
    public void Setup_SysctlFailure_StopsAndTeardownRestoresWhatWasSet()
    {
        var before = _host.Snapshot();
        _host.FailOn = "sysctl net.ipv4.conf.eth0.arp_ignore";

        var (code, lines) = Setup(Vip);

        Assert.Equal(1, code);
        Assert.Equal("set net.ipv4.conf.all.arp_announce 0 -> 2", lines[1]);
        Assert.Equal("error: injected failure: sysctl net.ipv4.conf.eth0.arp_ignore=1", lines[2]);
        Assert.Empty(_host.Addresses["lo"]);

        Teardown(Vip);
        Assert.Equal(before, _host.Snapshot());
        Assert.False(File.Exists(StatePath));
    }

    [Fact]
    public void Setup_CorruptStateFile_RefusesAndChangesNothing()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(StatePath)!);
        File.WriteAllText(StatePath, "{ not json");

        var (code, lines) = Setup(Vip);

        Assert.Equal(1, code);
        Assert.StartsWith($"error: cannot read state file {StatePath}", lines[0]);
        Assert.Empty(_host.Changes);
    }

    [Fact]
    public void Setup_SysctlResetBetweenRuns_KeepsFirstOriginalValue()
    {
        Setup(Vip);
        _host.Sysctls["net.ipv4.conf.all.arp_ignore"] = "0";   // someone reset it

        var (_, lines) = Setup(Vip);
        Assert.Contains("set net.ipv4.conf.all.arp_ignore 0 -> 1", lines);

        Teardown(Vip);
        Assert.Equal("0", _host.Sysctls["net.ipv4.conf.all.arp_ignore"]);
    }

    [Fact]
    public void Setup_NewInterfaceAfterFirstRun_IsConfiguredAndRestored()
    {
        var before = _host.Snapshot();
        Setup(Vip);
        _host.Sysctls["net.ipv4.conf.eth2.arp_ignore"] = "0";
        _host.Sysctls["net.ipv4.conf.eth2.arp_announce"] = "0";
        var withEth2 = _host.Snapshot();

        var (_, lines) = Setup(Vip);
        Assert.Contains("set net.ipv4.conf.eth2.arp_ignore 0 -> 1", lines);

        Teardown(Vip);
        Assert.NotEqual(before, withEth2);
        Assert.Equal("0", _host.Sysctls["net.ipv4.conf.eth2.arp_ignore"]);
        Assert.Equal("0", _host.Sysctls["net.ipv4.conf.all.arp_ignore"]);
    }
}
