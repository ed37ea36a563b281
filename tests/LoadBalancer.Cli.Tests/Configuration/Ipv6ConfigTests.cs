using System.Net;
using LoadBalancer.Core.Model;

using static LoadBalancer.Cli.Tests.CheckRun;
using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

public class Ipv6ConfigTests
{
    private const string OneFamily = "(a service's VIP, backends, gateway and nodes must be of one family)";

    /// <summary>A DR service on IPv6, <paramref name="top"/> on line 1: the service on line 3 (vip 4, port 5,
    /// interface 6, backends 7), web1 on line 8 (address 9), web2 on line 10 (address 11), then
    /// <paramref name="extra"/> service keys from line 12.</summary>
    private static string Service(string extra = "", string top = "", string vip = "2001:db8::100") =>
        $"""
        {top}
        services:
          - name: web
            vip: {vip}
            port: 80
            interface: eth0
            backends:
              - name: web1
                address: 2001:db8:1::11
              - name: web2
                address: 2001:db8:1::12
        """ + Indent(extra, 4);

    [Fact]
    public void Parse_Ipv6DrService_LoadsVipAndBackends()
    {
        var service = LoadService(Service());

        Assert.True(service.IsIpv6);
        Assert.Equal(IPAddress.Parse("2001:db8::100"), service.Vip);
        Assert.Equal(ForwardingMode.DirectRouting, service.Mode);
        Assert.Equal([IPAddress.Parse("2001:db8:1::11"), IPAddress.Parse("2001:db8:1::12")], service.Backends.Select(b => b.Address));
    }

    [Theory]
    [InlineData("2001:0db8:0000:0000:0000:0000:0000:0100", "2001:db8::100")]
    [InlineData("2001:DB8::100", "2001:db8::100")]
    [InlineData("fd00::100", "fd00::100")]
    [InlineData("64:ff9b::192.0.2.10", "64:ff9b::c000:20a")]
    public void Parse_Ipv6VipSpelledAnyWay_IsReadCanonically(string written, string canonical)
    {
        Assert.Equal(canonical, LoadService(Service(vip: written)).Vip.ToString());
    }

    [Fact]
    public void Parse_Ipv6ServiceWithModeDr_IsAccepted()
    {
        Assert.Equal(ForwardingMode.DirectRouting, LoadService(Service("mode: dr")).Mode);
    }

    [Fact]
    public void Parse_Ipv4AndIpv6ServicesOnOneInterface_AreBothAccepted()
    {
        var config = Load("""
            services:
              - name: web4
                vip: 10.99.0.100
                port: 80
                interface: eth0
                backends:
                  - {name: web1, address: 10.99.1.11}
              - name: web6
                vip: 2001:db8::100
                port: 80
                interface: eth0
                backends:
                  - {name: web1, address: 2001:db8:1::11}
            """);

        Assert.Equal([false, true], config.Services.Select(s => s.IsIpv6));
        Assert.All(config.Services, s => Assert.Equal("eth0", s.Interface));
    }

    [Fact]
    public void Parse_SameIpv6EndpointTwice_IsRefusedWithBrackets()
    {
        var yaml = Service() + """

              - name: again
                vip: 2001:db8::100
                port: 80
                interface: eth0
                backends:
                  - {name: web1, address: 2001:db8:1::13}
            """;
        AssertSingleError(yaml, "lb.yaml:12: service 'again' uses [2001:db8::100]:80/tcp, already used by service 'web' (line 3)");
    }

    [Theory]
    [InlineData("2001:db8::100%eth0", "lb.yaml:4: vip '2001:db8::100%eth0' has a scope id (%...): give the address without it (the interface is the service's)")]
    [InlineData("::ffff:10.99.0.100", "lb.yaml:4: vip ::ffff:10.99.0.100 is an IPv4-mapped IPv6 address; write it as IPv4 (10.99.0.100)")]
    [InlineData("ff02::1", "lb.yaml:4: vip ff02::1 is a multicast address")]
    [InlineData("'::10.99.0.100'", "lb.yaml:4: vip ::10.99.0.100 is an IPv4-compatible IPv6 address (::/96, deprecated); use the IPv4 address or a real IPv6 one")]
    [InlineData("'::'", "lb.yaml:4: vip :: is the unspecified address")]
    [InlineData("'::1'", "lb.yaml:4: vip ::1 is the loopback address")]
    [InlineData("fe80::100", "lb.yaml:4: vip fe80::100 is a link-local address (fe80::/10); use a global or unique local (fd00::/8) address")]
    [InlineData("febf::100", "lb.yaml:4: vip febf::100 is a link-local address (fe80::/10); use a global or unique local (fd00::/8) address")]
    [InlineData("'[2001:db8::100]:80'", "lb.yaml:4: vip must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '[2001:db8::100]:80')")]
    [InlineData("2001:db8::100::1", "lb.yaml:4: vip must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '2001:db8::100::1')")]
    [InlineData("2001:db8:g::1", "lb.yaml:4: vip must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '2001:db8:g::1')")]
    public void Parse_UnusableIpv6Vip_IsRefusedAtItsLine(string vip, string expected)
    {
        AssertSingleError(Service(vip: vip), expected);
    }

    [Theory]
    [InlineData("fe80::11", "lb.yaml:9: address fe80::11 is a link-local address (fe80::/10); use a global or unique local (fd00::/8) address")]
    [InlineData("fd00::11%eth1", "lb.yaml:9: address 'fd00::11%eth1' has a scope id (%...): give the address without it (the interface is the service's)")]
    [InlineData("10.99.1.11", $"lb.yaml:9: address 10.99.1.11 is IPv4 but the service's VIP 2001:db8::100 is IPv6 {OneFamily}")]
    [InlineData("2001:db8::100", "lb.yaml:8: backend 'web1' address 2001:db8::100 is the service's VIP")]
    public void Parse_BadBackendOfIpv6Service_IsRefusedAtItsLine(string address, string expected)
    {
        AssertSingleError(Service().Replace("address: 2001:db8:1::11", $"address: {address}"), expected);
    }

    [Fact]
    public void Parse_Ipv6BackendsTwice_IsRefusedLikeIpv4()
    {
        // Spelled differently, the same address: the canonical form is what is compared.
        AssertSingleError(Service().Replace("address: 2001:db8:1::12", "address: 2001:DB8:1:0::11"),
            "lb.yaml:10: backend 'web2' has address 2001:db8:1::11, already used by backend 'web1' (line 8)");
    }

    [Fact]
    public void Parse_Ipv6NatService_LoadsWithItsBackendSideAndGateway()
    {
        var service = LoadService(Service("mode: nat\nbackend_interface: eth1\ngateway: 2001:db8::1"));

        Assert.True(service.IsIpv6);
        Assert.Equal(ForwardingMode.Nat, service.Mode);
        Assert.Equal("eth1", service.EffectiveBackendInterface);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), service.Gateway);
    }

    [Fact]
    public void Parse_Ipv6NatServiceWithAnIpv4Backend_IsRefusedAtTheBackendsAddress()
    {
        AssertSingleError(Service("mode: nat").Replace("address: 2001:db8:1::12", "address: 10.99.4.12"),
            $"lb.yaml:11: address 10.99.4.12 is IPv4 but the service's VIP 2001:db8::100 is IPv6 {OneFamily}");
    }

    [Fact]
    public void Parse_Ipv6NatServiceWithHaSync_IsRefusedAtTheService()
    {
        AssertSingleError(Service("mode: nat", top: "ha:\n  sync: {peer: 10.99.1.3}"),
            "lb.yaml:4: service 'web' is an IPv6 NAT service, and ha.sync carries IPv4 sessions only so far: " +
            "drop ha.sync or serve this VIP from a balancer without state sync");
    }

    [Fact]
    public void Parse_Ipv6DrServiceWithHaSync_IsAccepted()
    {
        Assert.NotNull(Load(Service(top: "ha:\n  sync: {peer: 10.99.1.3}")).Ha!.Sync);
    }

    /// <summary>CLUSTERIP6: web6 on line 2 (vip 3), cluster on line 7 (mac 8), nodes from line 11.</summary>
    private static string ClusterService(string mac = "\"33:33:00:00:01:00\"", string node2 = "2001:db8:1::12") => $$"""
        services:
          - name: web6
            vip: 2001:db8::100
            port: 80
            mode: clusterip
            interface: eth0
            cluster:
              mac: {{mac}}
              local_node: 2
              nodes:
                - {id: 1, address: 2001:db8:1::11}
                - {id: 2, address: {{node2}}}
                - {id: 3, address: 2001:db8:1::13}
            health: {type: tcp, port: 80, interval: 1s, timeout: 500ms, rise: 2, fall: 2}
        """;

    [Fact]
    public void Parse_Ipv6ClusterIpService_LoadsVipClusterMacAndIpv6Nodes()
    {
        var service = LoadService(ClusterService());

        Assert.True(service.IsIpv6);
        Assert.Equal(ForwardingMode.ClusterIp, service.Mode);
        Assert.Equal(LoadBalancer.Core.Packets.MacAddress.Parse("33:33:00:00:01:00"), service.Cluster!.Mac);
        Assert.True(service.Cluster.Mac.IsMulticast);
        Assert.Equal(2, service.Cluster.LocalNode);
        Assert.Equal([IPAddress.Parse("2001:db8:1::11"), IPAddress.Parse("2001:db8:1::12"), IPAddress.Parse("2001:db8:1::13")],
            service.Cluster.Nodes.Select(n => n.Address));
    }

    /// <summary>YAML 1.1 tools read an unquoted all-digit MAC as a base-60 number; lb keeps the text either way.</summary>
    [Fact]
    public void Parse_Ipv6ClusterMacUnquoted_IsReadAsTheMacAllTheSame() =>
        Assert.Equal(LoadBalancer.Core.Packets.MacAddress.Parse("33:33:00:00:01:00"), LoadService(ClusterService(mac: "33:33:00:00:01:00")).Cluster!.Mac);

    [Theory]
    [InlineData("\"02:00:00:00:01:00\"", "lb.yaml:8: cluster mac 02:00:00:00:01:00 is not a multicast MAC (its first byte must be odd, e.g. 01:00:5e:...)")]
    [InlineData("ff:ff:ff:ff:ff:ff", "lb.yaml:8: cluster mac ff:ff:ff:ff:ff:ff is the broadcast MAC")]
    public void Parse_Ipv6ClusterIpServiceWithAMacThatIsNotMulticast_IsRefusedAtTheMacLine(string mac, string expected) =>
        AssertSingleError(ClusterService(mac), expected);

    [Fact]
    public void Parse_Ipv6ClusterIpServiceWithAnIpv4Node_IsRefusedAtItsAddress() =>
        AssertSingleError(ClusterService(node2: "10.99.1.12"), $"lb.yaml:12: node address 10.99.1.12 is IPv4 but the service's VIP 2001:db8::100 is IPv6 {OneFamily}");

    [Fact]
    public void Check_Ipv6ClusterIpService_PrintsOk()
    {
        using var file = new TempFile(ClusterService());
        var (code, output, _) = RunCheck(file.Path);

        Assert.Equal(0, code);
        Assert.Equal("ok" + Environment.NewLine, output);
    }

    [Fact]
    public void Parse_ClusterNodeOfTheOtherFamily_IsRefusedAtItsAddress()
    {
        var yaml = """
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                mode: clusterip
                interface: eth0
                cluster:
                  mac: 01:00:5e:7f:00:64
                  local_node: 1
                  nodes:
                    - {id: 1, address: 10.99.1.11}
                    - {id: 2, address: 2001:db8:1::12}
            """;
        AssertSingleError(yaml, $"lb.yaml:12: node address 2001:db8:1::12 is IPv6 but the service's VIP 10.99.0.100 is IPv4 {OneFamily}");
    }

    [Fact]
    public void Parse_GatewayOfTheOtherFamily_IsRefusedAtItsLine()
    {
        var yaml = """
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                mode: nat
                interface: eth0
                gateway: 2001:db8::1
                backends:
                  - {name: web1, address: 10.99.1.11}
            """;
        AssertSingleError(yaml, $"lb.yaml:7: gateway 2001:db8::1 is IPv6 but the service's VIP 10.99.0.100 is IPv4 {OneFamily}");
    }

    [Fact]
    public void Parse_AnnounceOnIpv6Service_IsRefusedAtItsLine()
    {
        AssertSingleError(Service("announce: true", top: "announce: {table: 100}"),
            "lb.yaml:12: announce is IPv4-only so far (vip 2001:db8::100 is IPv6): route the VIP/128 to this balancer yourself");
    }

    [Fact]
    public void Parse_AnnounceFalseOnIpv6Service_IsAccepted()
    {
        Assert.False(LoadService(Service("announce: false")).Announce);
    }

    [Fact]
    public void Check_MixedFamilies_PrintsTheOffendingLineAndReturnsTwo()
    {
        using var file = new TempFile(Service().Replace("address: 2001:db8:1::12", "address: 10.99.1.12"));
        var (code, output, error) = RunCheck(file.Path);

        Assert.Equal(2, code);
        Assert.Equal([$"{file.Path}:11: address 10.99.1.12 is IPv4 but the service's VIP 2001:db8::100 is IPv6 {OneFamily}"], OutputLines(output));
        Assert.Equal("", error);
    }

    [Fact]
    public void Check_Ipv6DrService_PrintsOk()
    {
        using var file = new TempFile(Service());
        var (code, output, _) = RunCheck(file.Path);

        Assert.Equal(0, code);
        Assert.Equal("ok" + Environment.NewLine, output);
    }
}
