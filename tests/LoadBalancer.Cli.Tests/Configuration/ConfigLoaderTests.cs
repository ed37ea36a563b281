using System.Net;
using LoadBalancer.Cli.Configuration;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

public class ConfigLoaderTests
{
    // Line numbers matter below: keep this text as is.
    private const string FullExample =
        """
        hash_seed: 0x5eed
        workers: 4
        control_socket: /run/lb/test.sock
        flow_table_size: 262144
        maglev_table_size: 251
        services:
          - name: web
            vip: 10.99.0.100
            port: 80
            protocol: tcp
            mode: dr
            interface: eth0
            backend_interface: eth1
            backends:
              - name: web1
                address: 10.99.1.11
                weight: 100
                mac: 02:00:00:00:00:11
              - name: web2
                address: 10.99.1.12
                weight: 0
          - name: dns
            vip: 10.99.0.100
            port: 53
            protocol: udp
            interface: eth0
            backends:
              - name: dns1
                address: 10.99.1.21
        """;

    [Fact]
    public void Parse_FullExample_LoadsEveryValue()
    {
        var config = Load(FullExample);

        Assert.Equal(0x5EEDu, config.HashSeed);
        Assert.Equal(4, config.Workers);
        Assert.Equal("/run/lb/test.sock", config.ControlSocket);
        Assert.Equal(262144, config.FlowTableSize);
        Assert.Equal(251, config.MaglevTableSize);
        Assert.Equal(Source, config.SourcePath);
        Assert.Equal(2, config.Services.Count);

        var web = config.Services[0];
        Assert.Equal("web", web.Name);
        Assert.Equal(IPAddress.Parse("10.99.0.100"), web.Vip);
        Assert.Equal((ushort)80, web.Port);
        Assert.Equal(TransportProtocol.Tcp, web.Protocol);
        Assert.Equal(ForwardingMode.DirectRouting, web.Mode);
        Assert.Equal("eth0", web.Interface);
        Assert.Equal("eth1", web.BackendInterface);
        Assert.Equal("eth1", web.EffectiveBackendInterface);
        Assert.Equal(7, web.Line);
        Assert.Equal(2, web.Backends.Count);

        var web1 = web.Backends[0];
        Assert.Equal("web1", web1.Name);
        Assert.Equal(IPAddress.Parse("10.99.1.11"), web1.Address);
        Assert.Equal(100, web1.Weight);
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:11"), web1.Mac);
        Assert.Equal(15, web1.Line);

        var web2 = web.Backends[1];
        Assert.Equal("web2", web2.Name);
        Assert.Equal(IPAddress.Parse("10.99.1.12"), web2.Address);
        Assert.Equal(0, web2.Weight);
        Assert.Null(web2.Mac);
        Assert.Equal(19, web2.Line);

        var dns = config.Services[1];
        Assert.Equal("dns", dns.Name);
        Assert.Equal((ushort)53, dns.Port);
        Assert.Equal(TransportProtocol.Udp, dns.Protocol);
        Assert.Null(dns.BackendInterface);
        Assert.Equal("eth0", dns.EffectiveBackendInterface);
        Assert.Equal(22, dns.Line);
        Assert.Equal(28, Assert.Single(dns.Backends).Line);
    }

    [Fact]
    public void Parse_MinimalConfig_UsesDefaults()
    {
        var config = Load(Minimal());

        Assert.Equal(BalancerConfig.DefaultHashSeed, config.HashSeed);
        Assert.Equal(0x5EEDu, config.HashSeed);
        Assert.Equal(1, config.Workers);
        Assert.Equal("/run/lb/lb.sock", config.ControlSocket);
        Assert.Equal(1048576, config.FlowTableSize);
        Assert.Equal(65537, config.MaglevTableSize);
        var service = Assert.Single(config.Services);
        Assert.Equal(TransportProtocol.Tcp, service.Protocol);
        Assert.Equal(ForwardingMode.DirectRouting, service.Mode);
        Assert.Null(service.BackendInterface);
        var backend = Assert.Single(service.Backends);
        Assert.Equal(100, backend.Weight);
        Assert.Null(backend.Mac);
    }

    [Theory]
    [InlineData("hash_seed: 0x5eed", 0x5EEDu)]
    [InlineData("hash_seed: 0XDEADBEEF", 0xDEADBEEFu)]
    [InlineData("hash_seed: 0xffffffff", 0xFFFFFFFFu)]
    [InlineData("hash_seed: 0", 0u)]
    [InlineData("hash_seed: 4294967295", 4294967295u)]
    [InlineData("hash_seed: 12345", 12345u)]
    public void Parse_HashSeed_AcceptsDecimalAndHex(string line, uint expected)
    {
        var config = Load(Minimal(top: line));
        Assert.Equal(expected, config.HashSeed);
    }

    [Theory]
    [InlineData("0x100000000")]
    [InlineData("4294967296")]
    [InlineData("-1")]
    [InlineData("0x")]
    [InlineData("0xzz")]
    [InlineData("seed")]
    [InlineData("1.5")]
    public void Parse_HashSeedInvalid_ReportsLine(string value)
    {
        AssertSingleError(Minimal(top: $"hash_seed: {value}"),
            $"lb.yaml:1: hash_seed must be an unsigned 32-bit integer, decimal or 0x hex (got '{value}')");
    }

    [Theory]
    [InlineData("workers: 0", "workers must be between 1 and 64 (got 0)")]
    [InlineData("workers: 65", "workers must be between 1 and 64 (got 65)")]
    [InlineData("workers: two", "workers must be an integer (got 'two')")]
    [InlineData("workers: 0x4", "workers must be an integer (got '0x4')")]
    [InlineData("flow_table_size: 1023", "flow_table_size must be between 1024 and 67108864 (got 1023)")]
    [InlineData("flow_table_size: 67108865", "flow_table_size must be between 1024 and 67108864 (got 67108865)")]
    [InlineData("flow_table_size: 99999999999999999999", "flow_table_size must be between 1024 and 67108864 (got 99999999999999999999)")]
    [InlineData("maglev_table_size: 65536", "maglev_table_size must be a prime number (got 65536); for example 65537")]
    [InlineData("maglev_table_size: 241", "maglev_table_size must be between 251 and 1000003 (got 241)")]
    [InlineData("maglev_table_size: 1000033", "maglev_table_size must be between 251 and 1000003 (got 1000033)")]
    [InlineData("control_socket: run/lb.sock", "control_socket must be an absolute path (got 'run/lb.sock')")]
    [InlineData("control_socket: /run/lb/", "control_socket must name a socket file, not a directory (got '/run/lb/')")]
    [InlineData("workers: [1, 2]", "workers must be a single value, not a list")]
    [InlineData("workers: {a: 1}", "workers must be a single value, not a mapping")]
    [InlineData("workers:", "workers has no value")]
    [InlineData("foo: 1", "unknown key 'foo'")]
    [InlineData("Workers: 2", "unknown key 'Workers' (did you mean 'workers'?)")]
    [InlineData("flowTableSize: 2048", "unknown key 'flowTableSize' (did you mean 'flow_table_size'?)")]
    [InlineData("flow_timeouts: {udp: 169h}", "udp must be at most 168h (got '169h')")]
    [InlineData("cpus: 1-", "cpus must be CPU numbers or ranges like 1-3 (got '1-')")]
    [InlineData("cpus: 3-1", "cpus: '3-1' is not a range of CPUs 0..1023")]
    [InlineData("cpus: 1024", "cpus: '1024' is not a range of CPUs 0..1023")]
    [InlineData("cpus: [1, 0-1]", "cpus: CPU 1 is listed twice")]
    [InlineData("cpus: []", "cpus must list at least one CPU")]
    [InlineData("cpus: one", "cpus must be CPU numbers or ranges like 1-3 (got 'one')")]
    [InlineData("flow_timeouts: {udp: soon}", "invalid duration 'soon' (use e.g. 500ms, 2s, 1m)")]
    [InlineData("flow_timeouts: {tcp_establised: 1h}", "unknown key 'tcp_establised'")]
    [InlineData("flow_timeouts: 60s", "flow_timeouts must be a mapping (key: value), not a single value")]
    public void Parse_BadTopLevelValue_ReportsLineOne(string line, string message)
    {
        AssertSingleError(Minimal(top: line), $"lb.yaml:1: {message}");
    }

    [Theory]
    [InlineData("workers: 64")]
    [InlineData("workers: 1")]
    [InlineData("flow_table_size: 1024")]
    [InlineData("flow_table_size: 67108864")]
    [InlineData("maglev_table_size: 1000003")]
    [InlineData("maglev_table_size: 65537")]
    [InlineData("workers: '2'")]
    public void Parse_BoundaryValues_AreAccepted(string line)
    {
        Load(Minimal(top: line));
    }

    [Theory]
    [InlineData("cpus: 1", new[] { 1 })]
    [InlineData("cpus: [0, 2-3]", new[] { 0, 2, 3 })]
    [InlineData("cpus: '1-3'", new[] { 1, 2, 3 })]
    public void Parse_Cpus_ListsThePinnedCpusInOrder(string line, int[] expected)
    {
        Assert.Equal(expected, Load(Minimal(top: line)).Cpus);
    }

    [Fact]
    public void Parse_FlowTimeouts_SetTheFlowTable_AndLeaveTheRestAtDefaults()
    {
        var config = Load(Minimal(top: "flow_timeouts: {udp: 10s, tcp_established: 1h}"));
        Assert.Equal(TimeSpan.FromSeconds(10), config.FlowTimeouts.Udp);
        Assert.Equal(TimeSpan.FromHours(1), config.FlowTimeouts.TcpEstablished);
        Assert.Equal(FlowTimeoutsConfig.Default.TcpSyn, config.FlowTimeouts.TcpSyn);
        Assert.Equal(FlowTimeoutsConfig.Default, Load(Minimal()).FlowTimeouts);
    }

    [Fact]
    public void Parse_ControlSocketTooLong_IsError()
    {
        var path = "/" + new string('s', 107);
        AssertSingleError(Minimal(top: $"control_socket: {path}"),
            "lb.yaml:1: control_socket path is 108 bytes; a unix socket path can be at most 107");
    }

    [Theory]
    [InlineData("vip: 10.99.0.100", "vip: fe80::100", "lb.yaml:4: vip fe80::100 is a link-local address (fe80::/10); use a global or unique local (fd00::/8) address")]
    [InlineData("vip: 10.99.0.100", "vip: 10.99.0", "lb.yaml:4: vip must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '10.99.0')")]
    [InlineData("vip: 10.99.0.100", "vip: 10.99.0.256", "lb.yaml:4: vip must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '10.99.0.256')")]
    [InlineData("vip: 10.99.0.100", "vip: 010.99.0.1", "lb.yaml:4: vip must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '010.99.0.1')")]
    [InlineData("vip: 10.99.0.100", "vip: 224.0.0.1", "lb.yaml:4: vip 224.0.0.1 is a multicast address")]
    [InlineData("vip: 10.99.0.100", "vip: 0.0.0.0", "lb.yaml:4: vip 0.0.0.0 is the unspecified address")]
    [InlineData("vip: 10.99.0.100", "vip: [10.99.0.100]", "lb.yaml:4: vip must be a single value, not a list")]
    [InlineData("port: 80", "port: 0", "lb.yaml:5: port must be between 1 and 65535 (got 0)")]
    [InlineData("port: 80", "port: 65536", "lb.yaml:5: port must be between 1 and 65535 (got 65536)")]
    [InlineData("port: 80", "port: http", "lb.yaml:5: port must be an integer (got 'http')")]
    [InlineData("port: 80", "port: 80\n    protocol: sctp", "lb.yaml:6: protocol must be 'tcp' or 'udp' (got 'sctp')")]
    [InlineData("port: 80", "port: 80\n    protocol: TCP", "lb.yaml:6: protocol must be 'tcp' or 'udp' (got 'TCP')")]
    [InlineData("port: 80", "port: 80\n    mode: clusterIP", "lb.yaml:6: mode must be one of 'dr', 'nat' or 'clusterip' (got 'clusterIP')")]
    [InlineData("port: 80", "port: 80\n    mode: tunnel", "lb.yaml:6: mode must be one of 'dr', 'nat' or 'clusterip' (got 'tunnel')")]
    [InlineData("port: 80", "port: 80\n    colour: blue", "lb.yaml:6: unknown key 'colour'")]
    [InlineData("port: 80", "port: 80\n    backendInterface: eth1", "lb.yaml:6: unknown key 'backendInterface' (did you mean 'backend_interface'?)")]
    [InlineData("interface: eth0", "interface: averyveryverylongname", "lb.yaml:6: interface 'averyveryverylongname' is not a valid interface name (1 to 15 characters, no '/', ':' or whitespace)")]
    [InlineData("interface: eth0", "interface: eth/0", "lb.yaml:6: interface 'eth/0' is not a valid interface name (1 to 15 characters, no '/', ':' or whitespace)")]
    [InlineData("interface: eth0", "interface: 'eth 0'", "lb.yaml:6: interface 'eth 0' is not a valid interface name (1 to 15 characters, no '/', ':' or whitespace)")]
    [InlineData("interface: eth0", "interface: eth0\n    backend_interface: eth0:1", "lb.yaml:7: backend_interface 'eth0:1' is not a valid interface name (1 to 15 characters, no '/', ':' or whitespace)")]
    [InlineData("- name: web\n", "- name: web/1\n", "lb.yaml:3: service name 'web/1' may only contain letters, digits, '_', '.' and '-'")]
    public void Parse_BadServiceValue_ReportsItsLine(string replace, string with, string expected)
    {
        AssertSingleError(Minimal().Replace(replace, with), expected);
    }

    [Theory]
    [InlineData("address: 10.99.1.11", "address: fd00::11", "lb.yaml:9: address fd00::11 is IPv6 but the service's VIP 10.99.0.100 is IPv4 (a service's VIP, backends, gateway and nodes must be of one family)")]
    [InlineData("address: 10.99.1.11", "address: host1", "lb.yaml:9: address must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got 'host1')")]
    [InlineData("address: 10.99.1.11", "address: 10.99.0.100", "lb.yaml:8: backend 'web1' address 10.99.0.100 is the service's VIP")]
    [InlineData("address: 10.99.1.11", "address: 10.99.1.11\n        weight: -1", "lb.yaml:10: weight must be between 0 and 1000000 (got -1)")]
    [InlineData("address: 10.99.1.11", "address: 10.99.1.11\n        weight: 1000001", "lb.yaml:10: weight must be between 0 and 1000000 (got 1000001)")]
    [InlineData("address: 10.99.1.11", "address: 10.99.1.11\n        weight: heavy", "lb.yaml:10: weight must be an integer (got 'heavy')")]
    [InlineData("address: 10.99.1.11", "address: 10.99.1.11\n        mac: 01:00:5e:00:00:01", "lb.yaml:10: mac 01:00:5e:00:00:01 is a multicast or broadcast address; a backend needs a unicast MAC")]
    [InlineData("address: 10.99.1.11", "address: 10.99.1.11\n        mac: ff:ff:ff:ff:ff:ff", "lb.yaml:10: mac ff:ff:ff:ff:ff:ff is a multicast or broadcast address; a backend needs a unicast MAC")]
    [InlineData("address: 10.99.1.11", "address: 10.99.1.11\n        mac: 00:00:00:00:00:00", "lb.yaml:10: mac must not be the all-zero address")]
    [InlineData("address: 10.99.1.11", "address: 10.99.1.11\n        mac: 02:00:00:00:11", "lb.yaml:10: mac must look like 02:00:00:00:00:11 (got '02:00:00:00:11')")]
    [InlineData("address: 10.99.1.11", "address: 10.99.1.11\n        port: 8080", "lb.yaml:10: 'port' of a backend applies only to mode nat (DR cannot change the port)")]
    [InlineData("address: 10.99.1.11", "address: 10.99.1.11\n        listen: 8080", "lb.yaml:10: unknown key 'listen'")]
    [InlineData("- name: web1", "- name: 'web 1'", "lb.yaml:8: backend name 'web 1' may only contain letters, digits, '_', '.' and '-'")]
    public void Parse_BadBackendValue_ReportsItsLine(string replace, string with, string expected)
    {
        AssertSingleError(Minimal().Replace(replace, with), expected);
    }

    [Theory]
    [InlineData("    vip: 10.99.0.100\n", "lb.yaml:3: missing required key 'vip'")]
    [InlineData("    port: 80\n", "lb.yaml:3: missing required key 'port'")]
    [InlineData("    interface: eth0\n", "lb.yaml:3: missing required key 'interface'")]
    [InlineData("        address: 10.99.1.11", "lb.yaml:8: missing required key 'address'")]
    public void Parse_MissingRequiredKey_ReportsMappingLine(string remove, string expected)
    {
        AssertSingleError(Minimal().Replace(remove, ""), expected);
    }

    [Fact]
    public void Parse_ServiceWithoutName_ReportsItemLine()
    {
        AssertSingleError(Minimal().Replace("- name: web\n    ", "- "), "lb.yaml:3: missing required key 'name'");
    }

    [Fact]
    public void Parse_MissingBackends_ReportsServiceLine()
    {
        var yaml = """
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                interface: eth0
            """;
        AssertSingleError(yaml, "lb.yaml:2: missing required key 'backends'");
    }

    [Fact]
    public void Parse_MissingServices_IsError()
    {
        AssertSingleError("workers: 2\n", "lb.yaml:1: missing required key 'services'");
    }

    [Theory]
    [InlineData("services: []", "lb.yaml:1: services must list at least one service")]
    [InlineData("services:", "lb.yaml:1: services has no value; it must be a list")]
    [InlineData("services: web", "lb.yaml:1: services must be a list (each item starting with '- ')")]
    [InlineData("services:\n  web: {}", "lb.yaml:2: services must be a list (each item starting with '- '), not a mapping")]
    [InlineData("services:\n  - web", "lb.yaml:2: each service must be a mapping (name: ..., vip: ..., ...)")]
    public void Parse_BadServicesList_IsError(string yaml, string expected)
    {
        AssertSingleError(yaml, expected);
    }

    [Fact]
    public void Parse_EmptyBackends_IsError()
    {
        var yaml = """
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                interface: eth0
                backends: []
            """;
        AssertSingleError(yaml, "lb.yaml:6: backends must list at least one backend");
    }

    [Fact]
    public void Parse_DuplicateServiceNameAndEndpoint_ReportsSecondService()
    {
        var yaml = """
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                interface: eth0
                backends:
                  - name: a
                    address: 10.99.1.11
              - name: web
                vip: 10.99.0.100
                port: 80
                protocol: tcp
                interface: eth0
                backends:
                  - name: a
                    address: 10.99.1.11
            """;
        var lines = Errors(yaml);
        Assert.Equal(
        [
            "lb.yaml:9: duplicate service name 'web' (first defined at line 2)",
            "lb.yaml:9: service 'web' uses 10.99.0.100:80/tcp, already used by service 'web' (line 2)",
        ], lines);
    }

    [Fact]
    public void Parse_SameVipAndPortDifferentProtocol_IsAllowed()
    {
        var yaml = Minimal() + """

              - name: web-udp
                vip: 10.99.0.100
                port: 80
                protocol: udp
                interface: eth0
                backends:
                  - name: web1
                    address: 10.99.1.11
            """;
        var config = Load(yaml);
        Assert.Equal(2, config.Services.Count);
    }

    [Fact]
    public void Parse_DuplicateBackendNameAndAddress_ReportsSecondBackend()
    {
        var yaml = Minimal() + """

                  - name: web1
                    address: 10.99.1.12
                  - name: web3
                    address: 10.99.1.11
            """;
        var lines = Errors(yaml);
        Assert.Equal(
        [
            "lb.yaml:10: duplicate backend name 'web1' in this service (first defined at line 8)",
            "lb.yaml:12: backend 'web3' has address 10.99.1.11, already used by backend 'web1' (line 8)",
        ], lines);
    }

    [Fact]
    public void Parse_SameBackendInTwoServices_IsAllowed()
    {
        var yaml = Minimal() + """

              - name: web2
                vip: 10.99.0.101
                port: 80
                interface: eth0
                backends:
                  - name: web1
                    address: 10.99.1.11
            """;
        Load(yaml);
    }

    [Fact]
    public void Parse_MultipleErrors_AreAllReportedInLineOrder()
    {
        var yaml = """
            workers: 100
            bogus: true
            services:
              - name: web
                vip: fd00::1%eth0
                port: 99999
                mode: tunnel
                interface: eth0
                extra: 1
                backends:
                  - name: web1
                    address: 10.99.1
                    weight: 5000000
                    mac: 01:02:03:04:05:06
                  - address: 10.99.1.12
            """;
        var lines = Errors(yaml);
        Assert.Equal(
        [
            "lb.yaml:1: workers must be between 1 and 64 (got 100)",
            "lb.yaml:2: unknown key 'bogus'",
            "lb.yaml:5: vip 'fd00::1%eth0' has a scope id (%...): give the address without it (the interface is the service's)",
            "lb.yaml:6: port must be between 1 and 65535 (got 99999)",
            "lb.yaml:7: mode must be one of 'dr', 'nat' or 'clusterip' (got 'tunnel')",
            "lb.yaml:9: unknown key 'extra'",
            "lb.yaml:12: address must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '10.99.1')",
            "lb.yaml:13: weight must be between 0 and 1000000 (got 5000000)",
            "lb.yaml:14: mac 01:02:03:04:05:06 is a multicast or broadcast address; a backend needs a unicast MAC",
            "lb.yaml:15: missing required key 'name'",
        ], lines);
    }

    [Fact]
    public void Parse_ErrorsInSeveralServices_AreAllReported()
    {
        var yaml = """
            services:
              - name: a
                vip: 10.99.0.100
                port: 0
                interface: eth0
                backends:
                  - name: a1
                    address: 10.99.1.11
              - name: b
                vip: 10.99.0.101
                port: 80
                interface: eth0
                backends:
                  - name: b1
                    address: 10.99.1.11
                    weight: x
            """;
        var lines = Errors(yaml);
        Assert.Equal(["lb.yaml:4: port must be between 1 and 65535 (got 0)", "lb.yaml:16: weight must be an integer (got 'x')"], lines);
    }

    [Fact]
    public void Parse_UnknownKeyAtEveryLevel_IsReportedEachTime()
    {
        var yaml = """
            servicez: 1
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                interface: eth0
                wat: 2
                backends:
                  - name: web1
                    address: 10.99.1.11
                    huh: 3
            """;
        var lines = Errors(yaml);
        Assert.Equal(["lb.yaml:1: unknown key 'servicez'", "lb.yaml:7: unknown key 'wat'", "lb.yaml:11: unknown key 'huh'"], lines);
    }

    [Fact]
    public void Parse_YamlSyntaxError_IsOneErrorWithItsLine()
    {
        var yaml = """
            workers: 1
            services:
              - name: web
                vip: [10.99.0.100
                port: 80
            """;
        var result = ConfigLoader.Parse(yaml, Source);
        var error = Assert.Single(result.Errors);
        Assert.Null(result.Config);
        Assert.Equal(Source, error.File);
        Assert.InRange(error.Line, 4, 6);
        Assert.StartsWith("invalid YAML: ", error.Message);
        Assert.DoesNotContain("Line:", error.Message);
        Assert.DoesNotContain("current state of the object", error.Message);
    }

    [Fact]
    public void Parse_BadIndentation_IsSyntaxErrorWithLine()
    {
        var yaml = "workers: 1\nservices:\n  - name: web\n   vip: 10.99.0.100\n";
        var error = Assert.Single(ConfigLoader.Parse(yaml, Source).Errors);
        Assert.InRange(error.Line, 3, 4);
        Assert.StartsWith("invalid YAML: ", error.Message);
    }

    [Fact]
    public void Parse_DuplicateKey_IsErrorWithLine()
    {
        var result = ConfigLoader.Parse(Minimal(top: "workers: 1\nworkers: 2"), Source);
        Assert.Equal(["lb.yaml:2: invalid YAML: duplicate key 'workers'"], Lines(result));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("---\n")]
    [InlineData("~\n")]
    public void Parse_EmptyDocument_IsError(string yaml)
    {
        var error = Assert.Single(ConfigLoader.Parse(yaml, Source).Errors);
        Assert.Equal("config is empty", error.Message);
    }

    [Fact]
    public void Parse_RootIsAList_IsError()
    {
        AssertSingleError("- a\n- b\n", "lb.yaml:1: config must be a mapping of settings (key: value)");
    }

    [Fact]
    public void Parse_TwoDocuments_IsError()
    {
        AssertSingleError(Minimal() + "\n---\nworkers: 2\n", "lb.yaml:11: config must be a single YAML document (found another document here)");
    }

    [Fact]
    public void Parse_NonScalarKey_IsError()
    {
        AssertSingleError(Minimal(top: "? [a, b]\n: 1"), "lb.yaml:1: keys must be plain names, not lists or mappings");
    }

    [Fact]
    public void Parse_AnchorsAndAliases_AreResolved()
    {
        var yaml = """
            services:
              - name: web
                vip: &vip 10.99.0.100
                port: 80
                interface: &if eth0
                backends: &pool
                  - name: web1
                    address: 10.99.1.11
              - name: web-tls
                vip: *vip
                port: 443
                interface: *if
                backends: *pool
            """;
        var config = Load(yaml);
        Assert.Equal(config.Services[0].Vip, config.Services[1].Vip);
        Assert.Equal("web1", Assert.Single(config.Services[1].Backends).Name);
    }

    [Fact]
    public void ConfigError_ToString_IsFileLineMessage()
    {
        Assert.Equal("/etc/lb/lb.yaml:7: unknown key 'foo'", new ConfigError("/etc/lb/lb.yaml", 7, "unknown key 'foo'").ToString());
    }

    [Fact]
    public void Load_MissingFile_IsErrorWithLineZero()
    {
        var path = Path.Combine(Path.GetTempPath(), $"lb-missing-{Guid.NewGuid():N}.yaml");
        var result = ConfigLoader.Load(path);
        Assert.Null(result.Config);
        Assert.Equal([$"{path}:0: config file not found"], result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Load_Directory_IsError()
    {
        var result = ConfigLoader.Load(Path.GetTempPath());
        var error = Assert.Single(result.Errors);
        Assert.Equal(0, error.Line);
        Assert.Equal("is a directory, not a config file", error.Message);
    }

    [Fact]
    public void Load_ValidFile_SetsFullSourcePath()
    {
        using var file = new TempFile(Minimal());
        var config = AssertValid(ConfigLoader.Load(file.Path));
        Assert.Equal(Path.GetFullPath(file.Path), config.SourcePath);
    }

    [Fact]
    public void Load_InvalidFile_NamesFileAsGiven()
    {
        using var file = new TempFile(Minimal(top: "workers: 0"));
        var result = ConfigLoader.Load(file.Path);
        Assert.Equal([$"{file.Path}:1: workers must be between 1 and 64 (got 0)"], result.Errors.Select(e => e.ToString()));
    }
}
