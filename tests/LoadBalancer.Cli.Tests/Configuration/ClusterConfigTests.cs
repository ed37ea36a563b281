using System.Net;
using LoadBalancer.Cli.Configuration;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

using static LoadBalancer.Cli.Tests.CheckRun;
using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary><c>mode: clusterip</c> and its <c>cluster:</c> section (mac, hash, local_node, nodes).</summary>
public class ClusterConfigTests
{
    /// <summary>The contract's example. Lines: services 1, service 2, vip 3, port 4, protocol 5, mode 6,
    /// interface 7, cluster 8, mac 9, hash 10, local_node 11, nodes 12, node 1 on 13, node 2 on 14,
    /// node 3 on 15, health 16.</summary>
    private const string Example = """
        services:
          - name: web
            vip: 10.99.0.100
            port: 80
            protocol: tcp
            mode: clusterip
            interface: eth0
            cluster:
              mac: 01:00:5e:7f:00:64
              hash: sourceip-sourceport
              local_node: 1
              nodes:
                - {id: 1, address: 10.99.1.11, weight: 100}
                - {id: 2, address: 10.99.1.12}
                - {id: 3, address: 10.99.1.13}
            health: {type: tcp, port: 80, interval: 1s, timeout: 500ms, rise: 2, fall: 2}
        """;

    private static string Edit(string from, string to)
    {
        Assert.Contains(from, Example);
        return Example.Replace(from, to);
    }

    // ---- valid configs -------------------------------------------------------------------------

    [Fact]
    public void Parse_FullExample_LoadsEveryValue()
    {
        var service = LoadService(Example);

        Assert.Equal("web", service.Name);
        Assert.Equal(IPAddress.Parse("10.99.0.100"), service.Vip);
        Assert.Equal(80, service.Port);
        Assert.Equal(TransportProtocol.Tcp, service.Protocol);
        Assert.Equal(ForwardingMode.ClusterIp, service.Mode);
        Assert.Equal("eth0", service.Interface);
        Assert.Null(service.BackendInterface);
        Assert.Empty(service.Backends);
        Assert.Equal(2, service.Line);

        var cluster = Assert.IsType<ClusterConfig>(service.Cluster);
        Assert.Equal(MacAddress.Parse("01:00:5e:7f:00:64"), cluster.Mac);
        Assert.Equal(ClusterHash.SourceIpSourcePort, cluster.Hash);
        Assert.Equal(1, cluster.LocalNode);
        Assert.Equal(8, cluster.Line);
        Assert.Equal([1, 2, 3], cluster.Nodes.Select(n => n.Id));
        Assert.Equal(["10.99.1.11", "10.99.1.12", "10.99.1.13"], cluster.Nodes.Select(n => n.Address.ToString()));
        Assert.Equal([100, 100, 100], cluster.Nodes.Select(n => n.Weight));
        Assert.Equal([13, 14, 15], cluster.Nodes.Select(n => n.Line));

        Assert.Equal(HealthCheckType.Tcp, service.Health.Type);
        Assert.Equal(80, service.Health.Port);
        Assert.Equal(TimeSpan.FromSeconds(1), service.Health.Interval);
        Assert.Equal(TimeSpan.FromMilliseconds(500), service.Health.Timeout);
    }

    [Fact]
    public void Parse_HeartbeatPort_DefaultsTo7355_ZeroTurnsItOff_AndHealthTargetsProbeItFirst()
    {
        Assert.Equal(ClusterConfig.DefaultHeartbeatPort, LoadService(Example).Cluster!.HeartbeatPort);
        Assert.Equal(0, LoadService(Edit("local_node: 1", "local_node: 1\n      heartbeat_port: 0")).Cluster!.HeartbeatPort);
        var config = Load(Edit("local_node: 1", "local_node: 1\n      heartbeat_port: 9000"));
        Assert.Equal(9000, config.Services[0].Cluster!.HeartbeatPort);

        var targets = LoadBalancer.Cli.Health.HealthTargets.From(config);
        Assert.Equal(["node-1", "node-2", "node-3"], targets.Select(t => t.Backend));
        Assert.All(targets, t => Assert.Equal((80, 9000), (t.Port, t.EnginePort)));
        Assert.All(LoadBalancer.Cli.Health.HealthTargets.From(Load(Edit("local_node: 1", "local_node: 1\n      heartbeat_port: 0"))),
            t => Assert.Null(t.EnginePort));
    }

    [Theory]
    [InlineData("heartbeat_port: 65536", "12: heartbeat_port must be between 0 and 65535 (got 65536)")]
    [InlineData("heartbeat_port: http", "12: heartbeat_port must be an integer (got 'http')")]
    public void Parse_BadHeartbeatPort_IsError(string line, string expected)
    {
        AssertSingleError(Edit("local_node: 1", "local_node: 1\n      " + line), $"lb.yaml:{expected}");
    }

    [Fact]
    public void Parse_NoHashAndNoWeight_UseTheDefaults()
    {
        var cluster = LoadService(Edit("      hash: sourceip-sourceport\n", "").Replace(", weight: 100", "")).Cluster!;
        Assert.Equal(ClusterHash.SourceIpSourcePort, cluster.Hash);
        Assert.All(cluster.Nodes, n => Assert.Equal(BackendConfig.DefaultWeight, n.Weight));
    }

    [Theory]
    [InlineData("sourceip", ClusterHash.SourceIp)]
    [InlineData("sourceip-sourceport", ClusterHash.SourceIpSourcePort)]
    [InlineData("sourceip-sourceport-destport", ClusterHash.SourceIpSourcePortDestinationPort)]
    public void Parse_HashName_MapsToItsMode(string name, ClusterHash expected)
    {
        Assert.Equal(expected, LoadService(Edit("hash: sourceip-sourceport", $"hash: {name}")).Cluster!.Hash);
        Assert.Equal(name, ModeNames.Name(expected));
    }

    [Fact]
    public void Parse_BlockStyleNodesWithWeights_LoadWithTheirLines()
    {
        var cluster = LoadService(Edit(
            "        - {id: 1, address: 10.99.1.11, weight: 100}\n        - {id: 2, address: 10.99.1.12}\n        - {id: 3, address: 10.99.1.13}",
            "        - id: 7\n          address: 10.99.1.17\n          weight: 0\n        - id: 255\n          address: 10.99.1.255\n          weight: 1000000")
            .Replace("local_node: 1", "local_node: 255")).Cluster!;
        Assert.Equal(255, cluster.LocalNode);
        Assert.Equal([(7, 0, 13), (255, 1_000_000, 16)], cluster.Nodes.Select(n => (n.Id, n.Weight, n.Line)));
    }

    [Fact]
    public void Parse_WithoutHealth_LoadsWithNoChecks()
    {
        var service = LoadService(Edit("    health: {type: tcp, port: 80, interval: 1s, timeout: 500ms, rise: 2, fall: 2}", ""));
        Assert.Equal(HealthCheckType.None, service.Health.Type);
    }

    [Fact]
    public void Parse_ClusterIpNextToDrService_BothLoad()
    {
        var config = Load(Example + """

              - name: dns
                vip: 10.99.0.53
                port: 53
                protocol: udp
                interface: eth0
                backends:
                  - name: dns1
                    address: 10.99.1.53
            """);
        Assert.Equal([ForwardingMode.ClusterIp, ForwardingMode.DirectRouting], config.Services.Select(s => s.Mode));
        Assert.Null(config.Services[1].Cluster);
    }

    // ---- the cluster MAC -----------------------------------------------------------------------

    [Theory]
    [InlineData("02:00:00:00:00:01", "lb.yaml:9: cluster mac 02:00:00:00:00:01 is not a multicast MAC (its first byte must be odd, e.g. 01:00:5e:...)")]
    [InlineData("00:00:00:00:00:00", "lb.yaml:9: cluster mac 00:00:00:00:00:00 is not a multicast MAC (its first byte must be odd, e.g. 01:00:5e:...)")]
    [InlineData("FF:FF:FF:FF:FF:FF", "lb.yaml:9: cluster mac ff:ff:ff:ff:ff:ff is the broadcast MAC")]
    [InlineData("01:00:5e:7f:00", "lb.yaml:9: mac must look like 01:00:5e:7f:00:64 (got '01:00:5e:7f:00')")]
    [InlineData("", "lb.yaml:9: mac has no value")]
    public void Parse_BadClusterMac_IsRefused(string mac, string expected)
    {
        AssertSingleError(Edit("mac: 01:00:5e:7f:00:64", $"mac: {mac}"), expected);
    }

    [Fact]
    public void Parse_OtherMulticastMac_IsAccepted()
    {
        Assert.Equal(MacAddress.Parse("03:00:00:00:00:01"), LoadService(Edit("01:00:5e:7f:00:64", "03:00:00:00:00:01")).Cluster!.Mac);
    }

    // ---- local node and nodes ------------------------------------------------------------------

    [Fact]
    public void Parse_LocalNodeNotANode_IsRefusedAtItsLine()
    {
        AssertSingleError(Edit("local_node: 1", "local_node: 4"), "lb.yaml:11: local_node 4 is not one of the nodes (1, 2, 3)");
    }

    [Fact]
    public void Parse_DuplicateNodeId_IsRefusedAtTheSecond()
    {
        AssertSingleError(Edit("{id: 3,", "{id: 2,"), "lb.yaml:15: node id 2 is used twice (first at line 14)");
    }

    [Fact]
    public void Parse_DuplicateNodeAddress_IsRefusedAtTheSecond()
    {
        AssertSingleError(Edit("10.99.1.13", "10.99.1.11"), "lb.yaml:15: node address 10.99.1.11 is used twice (first at line 13)");
    }

    [Fact]
    public void Parse_NodeAddressIsTheVip_IsRefused()
    {
        AssertSingleError(Edit("10.99.1.12", "10.99.0.100"), "lb.yaml:14: node address 10.99.0.100 is the service's VIP");
    }

    [Theory]
    [InlineData("{id: 3,", "{id: 0,", "lb.yaml:15: id must be between 1 and 255 (got 0)")]
    [InlineData("{id: 3,", "{id: 256,", "lb.yaml:15: id must be between 1 and 255 (got 256)")]
    [InlineData("{id: 3,", "{id: three,", "lb.yaml:15: id must be an integer (got 'three')")]
    [InlineData("local_node: 1", "local_node: 0", "lb.yaml:11: local_node must be between 1 and 255 (got 0)")]
    [InlineData("weight: 100}", "weight: 1000001}", "lb.yaml:13: weight must be between 0 and 1000000 (got 1000001)")]
    [InlineData("10.99.1.13", "10.99.1", "lb.yaml:15: address must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got '10.99.1')")]
    [InlineData("10.99.1.13", "fd00::13", "lb.yaml:15: node address fd00::13 is IPv6 but the service's VIP 10.99.0.100 is IPv4 (a service's VIP, backends, gateway and nodes must be of one family)")]
    [InlineData("10.99.1.13", "224.0.0.13", "lb.yaml:15: address 224.0.0.13 is a multicast address")]
    [InlineData("{id: 2, address: 10.99.1.12}", "{id: 2}", "lb.yaml:14: missing required key 'address'")]
    [InlineData("{id: 2, address: 10.99.1.12}", "{address: 10.99.1.12}", "lb.yaml:14: missing required key 'id'")]
    [InlineData("{id: 2, address: 10.99.1.12}", "10.99.1.12", "lb.yaml:14: each node must be a mapping (id: ..., address: ...)")]
    [InlineData("hash: sourceip-sourceport", "hash: sourceport", "lb.yaml:10: hash must be one of 'sourceip', 'sourceip-sourceport' or 'sourceip-sourceport-destport' (got 'sourceport')")]
    public void Parse_BadNodeOrClusterValue_IsRefusedAtItsLine(string from, string to, string expected)
    {
        AssertSingleError(Edit(from, to), expected);
    }

    [Fact]
    public void Parse_EmptyNodes_IsRefused()
    {
        var yaml = Edit(
            "  nodes:\n        - {id: 1, address: 10.99.1.11, weight: 100}\n        - {id: 2, address: 10.99.1.12}\n        - {id: 3, address: 10.99.1.13}",
            "  nodes: []");
        AssertSingleError(yaml, "lb.yaml:12: nodes must list at least one node");
    }

    [Fact]
    public void Parse_MissingRequiredClusterKeys_AreReportedAtTheClusterKey()
    {
        var yaml = Edit(
            "      mac: 01:00:5e:7f:00:64\n      hash: sourceip-sourceport\n      local_node: 1\n      nodes:\n        - {id: 1, address: 10.99.1.11, weight: 100}\n        - {id: 2, address: 10.99.1.12}\n        - {id: 3, address: 10.99.1.13}\n",
            "      hash: sourceip\n");
        Assert.Equal(
        [
            "lb.yaml:8: missing required key 'mac'",
            "lb.yaml:8: missing required key 'local_node'",
            "lb.yaml:8: missing required key 'nodes'",
        ], Errors(yaml));
    }

    [Fact]
    public void Parse_ClusterNotAMapping_IsRefused()
    {
        var yaml = Example.Split('\n');
        var text = string.Join('\n', yaml[..7].Append("    cluster: [1, 2]").Concat(yaml[15..]));
        AssertSingleError(text, "lb.yaml:8: cluster must be a mapping (key: value), not a list");
    }

    [Fact]
    public void Parse_UnknownKeysInClusterAndNode_AreRefusedWithHints()
    {
        var yaml = Edit("local_node: 1", "localNode: 1\n      local_node: 1\n      colour: blue").Replace("{id: 2, address: 10.99.1.12}", "{id: 2, addr: 10.99.1.12, address: 10.99.1.13}");
        // colour is on 13, so the nodes move down by two: node 2 is on line 16.
        Assert.Equal(
        [
            "lb.yaml:11: unknown key 'localNode' (did you mean 'local_node'?)",
            "lb.yaml:13: unknown key 'colour'",
            "lb.yaml:16: unknown key 'addr'",
            "lb.yaml:17: node address 10.99.1.13 is used twice (first at line 16)",
        ], Errors(yaml));
    }

    // ---- keys of other modes -------------------------------------------------------------------

    [Fact]
    public void Parse_ClusterIpWithoutCluster_IsRefusedAtTheService()
    {
        var lines = Example.Split('\n');
        var yaml = string.Join('\n', lines[..7].Concat(lines[15..]));
        AssertSingleError(yaml, "lb.yaml:2: mode clusterip needs a cluster: section");
    }

    [Fact]
    public void Parse_KeysOfOtherModesUnderClusterIp_AreEachRefused()
    {
        var yaml = Example + """

                backend_interface: eth1
                gateway: 10.99.0.1
                timeouts: {udp: 5s}
                tcp_pickup: true
                backends:
                  - name: web1
                    address: 10.99.1.11
            """;
        Assert.Equal(
        [
            "lb.yaml:17: 'backend_interface' does not apply to mode clusterip",
            "lb.yaml:18: 'gateway' applies only to mode nat",
            "lb.yaml:19: 'timeouts' applies only to mode nat",
            "lb.yaml:20: 'tcp_pickup' applies only to mode nat",
            "lb.yaml:21: 'backends' does not apply to mode clusterip (nodes are listed under cluster)",
        ], Errors(yaml));
    }

    [Theory]
    [InlineData("dr")]
    [InlineData("nat")]
    public void Parse_ClusterUnderOtherMode_IsRefused(string mode)
    {
        var yaml = Edit("mode: clusterip", $"mode: {mode}") + "\n    backends:\n      - name: web1\n        address: 10.99.1.11";
        AssertSingleError(yaml, "lb.yaml:8: 'cluster' applies only to mode clusterip");
    }

    [Fact]
    public void Parse_UnknownModeWithCluster_ChecksTheClusterToo()
    {
        Assert.Equal(
        [
            "lb.yaml:6: mode must be one of 'dr', 'nat' or 'clusterip' (got 'cluster')",
            "lb.yaml:11: local_node 4 is not one of the nodes (1, 2, 3)",
        ], Errors(Edit("mode: clusterip", "mode: cluster").Replace("local_node: 1", "local_node: 4")));
    }

    [Fact]
    public void Parse_SeveralClusterErrors_AreAllReportedInLineOrder()
    {
        var yaml = Edit("mac: 01:00:5e:7f:00:64", "mac: 02:00:00:00:00:01")
            .Replace("local_node: 1", "local_node: 9")
            .Replace("{id: 3, address: 10.99.1.13}", "{id: 2, address: 10.99.1.13, port: 80}");
        Assert.Equal(
        [
            "lb.yaml:9: cluster mac 02:00:00:00:00:01 is not a multicast MAC (its first byte must be odd, e.g. 01:00:5e:...)",
            "lb.yaml:15: unknown key 'port'",
            "lb.yaml:15: node id 2 is used twice (first at line 14)",
        ], Errors(yaml));
    }

    // ---- lb check ------------------------------------------------------------------------------

    [Theory]
    [InlineData("mac: 01:00:5e:7f:00:64", "mac: 02:00:00:00:00:01",
        "9: cluster mac 02:00:00:00:00:01 is not a multicast MAC (its first byte must be odd, e.g. 01:00:5e:...)")]
    [InlineData("local_node: 1", "local_node: 4", "11: local_node 4 is not one of the nodes (1, 2, 3)")]
    [InlineData("{id: 3,", "{id: 2,", "15: node id 2 is used twice (first at line 14)")]
    public void CheckRun_ClusterError_PrintsTheLineAndReturnsTwo(string from, string to, string expected)
    {
        using var file = new TempFile(Edit(from, to));
        var (code, output, error) = RunCheck(file.Path);
        Assert.Equal(2, code);
        Assert.Equal([$"{file.Path}:{expected}"], OutputLines(output));
        Assert.Equal("", error);
    }

    [Fact]
    public void CheckRun_FullExample_PrintsOk()
    {
        using var file = new TempFile(Example);
        var (code, output, _) = RunCheck(file.Path);
        Assert.Equal(0, code);
        Assert.Equal("ok" + Environment.NewLine, output);
    }
}
