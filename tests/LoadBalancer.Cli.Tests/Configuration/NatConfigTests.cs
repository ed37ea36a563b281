using System.Net;
using LoadBalancer.Cli.Configuration;
using LoadBalancer.Core.Model;

using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary><c>mode: nat</c> and its keys: <c>session_table_size</c> (top level), <c>gateway</c>,
/// <c>timeouts:</c> and <c>tcp_pickup</c> (service), <c>port</c> (backend).</summary>
public class NatConfigTests
{
    /// <summary>A valid service: <paramref name="top"/> on line 1, services on line 2, the service on line 3
    /// (vip 4, port 5, mode 6, interface 7, backends 8), web1 on line 9 (address 10), web2 on line 11
    /// (address 12); <paramref name="web2"/> goes in web2 from line 13 on, then <paramref name="extra"/>
    /// at service level.</summary>
    private static string Service(string extra = "", string web2 = "", string mode = "nat", string top = "") =>
        $"""
        {top}
        services:
          - name: web
            vip: 10.99.0.100
            port: 80
            mode: {mode}
            interface: eth0
            backends:
              - name: web1
                address: 10.99.1.11
              - name: web2
                address: 10.99.1.12{Indent(web2, 8)}
        """ + Indent(extra, 4);

    // ---- valid configs -------------------------------------------------------------------------

    [Fact]
    public void Parse_FullNatExample_LoadsEveryValue()
    {
        var config = Load("""
            session_table_size: 65536
            services:
              - name: web
                vip: 192.0.2.10
                port: 80
                mode: nat
                interface: eth0
                backend_interface: eth1
                gateway: 192.0.2.1
                timeouts:
                  tcp_syn: 5s
                  tcp_established: 2h
                  tcp_closing: 1m
                  udp: 1500ms
                tcp_pickup: true
                backends:
                  - name: web1
                    address: 10.0.0.11
                    port: 8080
                  - name: web2
                    address: 10.0.0.11
                    port: 8081
                  - name: web3
                    address: 10.0.0.12
            """);

        Assert.Equal(65536, config.SessionTableSize);
        var service = Assert.Single(config.Services);
        Assert.Equal(ForwardingMode.Nat, service.Mode);
        Assert.Equal(IPAddress.Parse("192.0.2.1"), service.Gateway);
        Assert.Equal(TimeSpan.FromSeconds(5), service.Timeouts.TcpSyn);
        Assert.Equal(TimeSpan.FromHours(2), service.Timeouts.TcpEstablished);
        Assert.Equal(TimeSpan.FromMinutes(1), service.Timeouts.TcpClosing);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), service.Timeouts.Udp);
        Assert.True(service.TcpPickup);
        Assert.Equal("eth1", service.EffectiveBackendInterface);
        Assert.Equal(
            [("web1", "10.0.0.11", (ushort?)8080), ("web2", "10.0.0.11", 8081), ("web3", "10.0.0.12", null)],
            service.Backends.Select(b => (b.Name, b.Address.ToString(), b.Port)).ToArray());
    }

    [Fact]
    public void Parse_NatWithoutOptionalKeys_UsesDefaults()
    {
        var config = Load(Service());

        Assert.Equal(BalancerConfig.DefaultSessionTableSize, config.SessionTableSize);
        Assert.Equal(262144, config.SessionTableSize);
        var service = Assert.Single(config.Services);
        Assert.Equal(ForwardingMode.Nat, service.Mode);
        Assert.Null(service.Gateway);
        Assert.Equal(FlowTimeoutsConfig.Default, service.Timeouts);
        Assert.Equal(TimeSpan.FromSeconds(10), service.Timeouts.TcpSyn);
        Assert.Equal(TimeSpan.FromSeconds(900), service.Timeouts.TcpEstablished);
        Assert.Equal(TimeSpan.FromSeconds(30), service.Timeouts.TcpClosing);
        Assert.Equal(TimeSpan.FromSeconds(60), service.Timeouts.Udp);
        Assert.False(service.TcpPickup);
        Assert.All(service.Backends, b => Assert.Null(b.Port));
    }

    [Fact]
    public void Parse_DrWithoutNatKeys_KeepsNatDefaults()
    {
        var config = Load(Service(mode: "dr", top: "session_table_size: 2048"));

        Assert.Equal(2048, config.SessionTableSize);
        var service = Assert.Single(config.Services);
        Assert.Equal(ForwardingMode.DirectRouting, service.Mode);
        Assert.Null(service.Gateway);
        Assert.Equal(FlowTimeoutsConfig.Default, service.Timeouts);
        Assert.False(service.TcpPickup);
    }

    [Fact]
    public void Parse_SomeTimeouts_KeepsTheDefaultsOfTheOthers()
    {
        var timeouts = LoadService(Service("timeouts:\n  tcp_established: 1h\n  udp: 5")).Timeouts;

        Assert.Equal(FlowTimeoutsConfig.Default with { TcpEstablished = TimeSpan.FromHours(1), Udp = TimeSpan.FromSeconds(5) }, timeouts);
    }

    [Theory]
    [InlineData("1ms")]
    [InlineData("168h")]
    public void Parse_TimeoutAtItsLimits_IsAccepted(string value)
    {
        var timeouts = LoadService(Service($"timeouts:\n  tcp_syn: {value}")).Timeouts;

        Assert.True(ConfigSyntax.TryParseDuration(value, out var expected));
        Assert.Equal(expected, timeouts.TcpSyn);
    }

    [Theory]
    [InlineData("16")]
    [InlineData("67108864")]
    public void Parse_SessionTableSizeAtItsLimits_IsAccepted(string value)
    {
        Assert.Equal(int.Parse(value), Load(Service(top: $"session_table_size: {value}")).SessionTableSize);
    }

    [Fact]
    public void Parse_EmptyTimeoutsMapping_UsesDefaults()
    {
        Assert.Equal(FlowTimeoutsConfig.Default, LoadService(Service("timeouts: {}")).Timeouts);
    }

    [Fact]
    public void Parse_TcpPickupFalse_IsFalse()
    {
        Assert.False(LoadService(Service("tcp_pickup: false")).TcpPickup);
    }

    [Fact]
    public void Parse_GatewayOnTheBackendNetwork_IsAccepted()
    {
        Assert.Equal(IPAddress.Parse("10.99.0.1"), LoadService(Service("gateway: 10.99.0.1")).Gateway);
    }

    // ---- bad values ----------------------------------------------------------------------------

    [Theory]
    [InlineData("session_table_size: 15", "lb.yaml:1: session_table_size must be between 16 and 67108864 (got 15)")]
    [InlineData("session_table_size: 67108865", "lb.yaml:1: session_table_size must be between 16 and 67108864 (got 67108865)")]
    [InlineData("session_table_size: 256k", "lb.yaml:1: session_table_size must be an integer (got '256k')")]
    [InlineData("session_table_size:", "lb.yaml:1: session_table_size has no value")]
    [InlineData("sessionTableSize: 4096", "lb.yaml:1: unknown key 'sessionTableSize' (did you mean 'session_table_size'?)")]
    public void Parse_BadSessionTableSize_ReportsLine1(string top, string expected)
    {
        AssertSingleError(Service(top: top), expected);
    }

    [Theory]
    [InlineData("gateway: 10.99.0", "lb.yaml:13: gateway must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '10.99.0')")]
    [InlineData("gateway: 010.99.0.1", "lb.yaml:13: gateway must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '010.99.0.1')")]
    [InlineData("gateway: fd00::1", "lb.yaml:13: gateway fd00::1 is IPv6 but the service's VIP 10.99.0.100 is IPv4 (a service's VIP, backends, gateway and nodes must be of one family)")]
    [InlineData("gateway: 224.0.0.1", "lb.yaml:13: gateway 224.0.0.1 is a multicast address")]
    [InlineData("gateway: 255.255.255.255", "lb.yaml:13: gateway 255.255.255.255 is the broadcast address")]
    [InlineData("gateway: 127.0.0.1", "lb.yaml:13: gateway 127.0.0.1 is a loopback address")]
    [InlineData("gateway: 10.99.0.100", "lb.yaml:13: gateway 10.99.0.100 is the service's VIP")]
    [InlineData("gateway: [10.99.0.1]", "lb.yaml:13: gateway must be a single value, not a list")]
    [InlineData("gateway:", "lb.yaml:13: gateway has no value")]
    [InlineData("tcp_pickup: yes", "lb.yaml:13: tcp_pickup must be true or false (got 'yes')")]
    [InlineData("tcpPickup: true", "lb.yaml:13: unknown key 'tcpPickup' (did you mean 'tcp_pickup'?)")]
    [InlineData("timeouts: 60s", "lb.yaml:13: timeouts must be a mapping (key: value), not a single value")]
    [InlineData("timeouts:", "lb.yaml:13: timeouts has no value; it must be a mapping (key: value)")]
    [InlineData("timeouts: [10s]", "lb.yaml:13: timeouts must be a mapping (key: value), not a list")]
    [InlineData("timeouts:\n  tcp_fin: 5s", "lb.yaml:14: unknown key 'tcp_fin'")]
    [InlineData("timeouts:\n  tcpSyn: 5s", "lb.yaml:14: unknown key 'tcpSyn' (did you mean 'tcp_syn'?)")]
    [InlineData("timeouts:\n  tcp_syn: 0s", "lb.yaml:14: tcp_syn must be greater than 0 (got '0s')")]
    [InlineData("timeouts:\n  tcp_syn: 10sec", "lb.yaml:14: invalid duration '10sec' (use e.g. 500ms, 2s, 1m)")]
    [InlineData("timeouts:\n  tcp_established: 169h", "lb.yaml:14: tcp_established must be at most 168h (got '169h')")]
    [InlineData("timeouts:\n  tcp_closing: -1s", "lb.yaml:14: invalid duration '-1s' (use e.g. 500ms, 2s, 1m)")]
    [InlineData("timeouts:\n  udp: 7d", "lb.yaml:14: invalid duration '7d' (use e.g. 500ms, 2s, 1m)")]
    [InlineData("timeouts:\n  udp:", "lb.yaml:14: udp has no value")]
    public void Parse_BadNatServiceValue_ReportsItsLine(string extra, string expected)
    {
        AssertSingleError(Service(extra), expected);
    }

    [Theory]
    [InlineData("port: 0", "lb.yaml:13: port must be between 1 and 65535 (got 0)")]
    [InlineData("port: 65536", "lb.yaml:13: port must be between 1 and 65535 (got 65536)")]
    [InlineData("port: http", "lb.yaml:13: port must be an integer (got 'http')")]
    [InlineData("port:", "lb.yaml:13: port has no value")]
    public void Parse_BadBackendPort_ReportsItsLine(string web2, string expected)
    {
        AssertSingleError(Service(web2: web2), expected);
    }

    [Fact]
    public void Parse_SeveralBadTimeouts_AreAllReportedInLineOrder()
    {
        Assert.Equal(
        [
            "lb.yaml:14: tcp_syn must be greater than 0 (got '0ms')",
            "lb.yaml:15: unknown key 'tcp_fin'",
            "lb.yaml:16: tcp_closing must be at most 168h (got '10000h')",
            "lb.yaml:17: invalid duration 'forever' (use e.g. 500ms, 2s, 1m)",
        ], Errors(Service("timeouts:\n  tcp_syn: 0ms\n  tcp_fin: 1s\n  tcp_closing: 10000h\n  udp: forever")));
    }

    // ---- NAT-only keys with mode dr ------------------------------------------------------------

    [Theory]
    [InlineData("gateway: 10.99.0.1", "lb.yaml:13: 'gateway' applies only to mode nat")]
    [InlineData("timeouts:\n  tcp_syn: 5s", "lb.yaml:13: 'timeouts' applies only to mode nat")]
    [InlineData("tcp_pickup: true", "lb.yaml:13: 'tcp_pickup' applies only to mode nat")]
    [InlineData("tcp_pickup: false", "lb.yaml:13: 'tcp_pickup' applies only to mode nat")]
    public void Parse_DrWithNatOnlyServiceKey_IsRefusedAtTheKeysLine(string extra, string expected)
    {
        AssertSingleError(Service(extra, mode: "dr"), expected);
    }

    [Fact]
    public void Parse_DrWithBackendPort_IsRefusedAtTheKeysLine()
    {
        Assert.Equal(["lb.yaml:13: 'port' of a backend applies only to mode nat (DR cannot change the port)"],
            Errors(Service(web2: "port: 8080", mode: "dr")));
    }

    [Fact]
    public void Parse_NatKeysWithoutMode_AreRefusedAsDr()
    {
        // No 'mode' key means dr.
        var yaml = """
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                interface: eth0
                gateway: 10.99.0.1
                backends:
                  - name: web1
                    address: 10.99.1.11
                    port: 8080
            """;

        Assert.Equal(
        [
            "lb.yaml:6: 'gateway' applies only to mode nat",
            "lb.yaml:10: 'port' of a backend applies only to mode nat (DR cannot change the port)",
        ], Errors(yaml));
    }

    [Fact]
    public void Parse_DrWithEveryNatOnlyKey_ReportsEachAtItsKeyWithoutReadingValues()
    {
        // The values are bad too, but a key that does not apply is reported once, for not applying.
        Assert.Equal(
        [
            "lb.yaml:13: 'port' of a backend applies only to mode nat (DR cannot change the port)",
            "lb.yaml:14: 'gateway' applies only to mode nat",
            "lb.yaml:15: 'timeouts' applies only to mode nat",
            "lb.yaml:17: 'tcp_pickup' applies only to mode nat",
        ], Errors(Service("gateway: bogus\ntimeouts:\n  tcp_syn: never\ntcp_pickup: maybe", web2: "port: 0", mode: "dr")));
    }

    [Fact]
    public void Parse_UnusableModeWithNatKeys_ChecksTheirValuesOnly()
    {
        // With no usable mode the NAT keys are neither accepted nor refused; their values are still checked.
        Assert.Equal(
        [
            "lb.yaml:6: mode must be one of 'dr', 'nat' or 'clusterip' (got 'tunnel')",
            "lb.yaml:13: port must be between 1 and 65535 (got 0)",
            "lb.yaml:14: gateway must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got 'bogus')",
        ], Errors(Service("gateway: bogus\ntcp_pickup: true", web2: "port: 0", mode: "tunnel")));
    }

    [Fact]
    public void Parse_NatKeysUnderClusterIp_AreRefusedLikeUnderDr()
    {
        Assert.Equal(
        [
            "lb.yaml:3: mode clusterip needs a cluster: section",
            "lb.yaml:8: 'backends' does not apply to mode clusterip (nodes are listed under cluster)",
            "lb.yaml:13: 'gateway' applies only to mode nat",
            "lb.yaml:14: 'tcp_pickup' applies only to mode nat",
        ], Errors(Service("gateway: 10.99.0.1\ntcp_pickup: true", mode: "clusterip")));
    }

    // ---- backends of a NAT service -------------------------------------------------------------

    [Fact]
    public void Parse_NatBackendsWithSameAddressAndPort_AreRefused()
    {
        // web1's port line moves web2 to line 12.
        Assert.Equal(["lb.yaml:12: backend 'web2' has address 10.99.1.11 and port 8080, already used by backend 'web1' (line 9)"],
            Errors(Service(mode: "nat").Replace("address: 10.99.1.11", "address: 10.99.1.11\n        port: 8080")
                                       .Replace("address: 10.99.1.12", "address: 10.99.1.11\n        port: 8080")));
    }

    [Fact]
    public void Parse_NatBackendPortEqualToTheServicePort_CountsAsTheSamePort()
    {
        // web1 has no port, so it uses the service's 80; web2 says 80 explicitly.
        Assert.Equal(["lb.yaml:11: backend 'web2' has address 10.99.1.11 and port 80, already used by backend 'web1' (line 9)"],
            Errors(Service(web2: "port: 80").Replace("address: 10.99.1.12", "address: 10.99.1.11")));
    }

    [Fact]
    public void Parse_NatBackendsWithSameAddressWithoutPorts_AreRefused()
    {
        Assert.Equal(["lb.yaml:11: backend 'web2' has address 10.99.1.11 and port 80, already used by backend 'web1' (line 9)"],
            Errors(Service().Replace("address: 10.99.1.12", "address: 10.99.1.11")));
    }

    [Fact]
    public void Parse_NatBackendsWithSameAddressAndDifferentPorts_AreAccepted()
    {
        var service = LoadService(Service(web2: "port: 8080").Replace("address: 10.99.1.12", "address: 10.99.1.11"));

        Assert.Equal([(IPAddress.Parse("10.99.1.11"), (ushort?)null), (IPAddress.Parse("10.99.1.11"), 8080)],
            service.Backends.Select(b => (b.Address, b.Port)).ToArray());
    }

    [Fact]
    public void Parse_DrBackendsWithSameAddress_AreStillRefusedByAddress()
    {
        Assert.Equal(["lb.yaml:11: backend 'web2' has address 10.99.1.11, already used by backend 'web1' (line 9)"],
            Errors(Service(mode: "dr").Replace("address: 10.99.1.12", "address: 10.99.1.11")));
    }

    [Fact]
    public void Parse_NatBackendAtTheVip_IsRefused()
    {
        Assert.Equal(["lb.yaml:11: backend 'web2' address 10.99.0.100 is the service's VIP"],
            Errors(Service(web2: "port: 8080").Replace("address: 10.99.1.12", "address: 10.99.0.100")));
    }
}
