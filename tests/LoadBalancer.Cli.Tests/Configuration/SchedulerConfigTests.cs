using LoadBalancer.Core.Model;
using LoadBalancer.Core.Scheduling;

using static LoadBalancer.Cli.Tests.CheckRun;
using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary>The service key <c>scheduler</c> and the backend keys <c>max_connections</c> and <c>min_connections</c>.</summary>
public class SchedulerConfigTests
{
    /// <summary>The contract's example. Lines: services 1, service 2, vip 3, port 4, mode 5, interface 6, scheduler 7,
    /// backends 8, web1 on 9 (a flow mapping: its keys are all on line 9), web2 on 10 (address 11);
    /// <paramref name="web2"/> goes in web2 from line 12 on.</summary>
    private static string Service(string scheduler = "wlc", string web1 = "max_connections: 200, min_connections: 150",
                                  string web2 = "", string mode = "dr")
    {
        var web1Mapping = "{name: web1, address: 10.99.1.11" + (web1.Length > 0 ? ", " + web1 : "") + "}";
        return $"""
        services:
          - name: web
            vip: 10.99.0.100
            port: 80
            mode: {mode}
            interface: eth0
            scheduler: {scheduler}            # maglev (default) | wlc | wrr
            backends:
              - {web1Mapping}
              - name: web2
                address: 10.99.1.12{Indent(web2, 8)}
        """;
    }

    /// <summary>A clusterip service (mode on line 5, scheduler on line 7, node 1 on line 12), <paramref name="node"/>
    /// inside node 1's mapping.</summary>
    private static string ClusterService(string scheduler, string node = "")
    {
        var (node1, node2) = ("{id: 1, address: 10.99.1.11" + node + "}", "{id: 2, address: 10.99.1.12}");
        return $"""
        services:
          - name: web
            vip: 10.99.0.100
            port: 80
            mode: clusterip
            interface: eth0
            scheduler: {scheduler}
            cluster:
              mac: 01:00:5e:7f:00:64
              local_node: 1
              nodes:
                - {node1}
                - {node2}
        """;
    }

    // ---- valid configs -------------------------------------------------------------------------

    [Fact]
    public void Parse_ContractExample_ReadsSchedulerAndLimits()
    {
        var service = LoadService(Service());

        Assert.Equal(SchedulerKind.Wlc, service.Scheduler);
        var (web1, web2) = (service.Backends[0], service.Backends[1]);
        Assert.Equal((200, 150), (web1.MaxConnections, web1.MinConnections));
        Assert.Equal(new ConnectionLimit(200, 150), web1.Limit);
        Assert.Equal((0, null), (web2.MaxConnections, web2.MinConnections));
        Assert.False(web2.Limit.IsLimited);
        Assert.Equal(7, service.KeyLines["scheduler"]);
    }

    [Fact]
    public void Parse_NoSchedulerNoLimits_MaglevAndUnlimited()
    {
        var service = LoadService(Minimal());

        Assert.Equal(SchedulerKind.Maglev, service.Scheduler);
        var backend = Assert.Single(service.Backends);
        Assert.Equal((0, null), (backend.MaxConnections, backend.MinConnections));
        Assert.Equal(ConnectionLimit.None, backend.Limit);
    }

    [Theory]
    [InlineData("maglev", "dr", SchedulerKind.Maglev)]
    [InlineData("wlc", "dr", SchedulerKind.Wlc)]
    [InlineData("wrr", "dr", SchedulerKind.Wrr)]
    [InlineData("wlc", "nat", SchedulerKind.Wlc)]
    [InlineData("wrr", "nat", SchedulerKind.Wrr)]
    public void Parse_Scheduler_IsRead(string value, string mode, SchedulerKind expected)
    {
        Assert.Equal(expected, LoadService(Service(value, mode: mode)).Scheduler);
    }

    [Fact]
    public void Parse_MaxWithoutMin_MinIsThreeQuartersOfMax()
    {
        var backend = LoadService(Service(web1: "max_connections: 200")).Backends[0];

        Assert.Null(backend.MinConnections);
        Assert.Equal(new ConnectionLimit(200, 150), backend.Limit);
    }

    [Theory]
    [InlineData("max_connections: 1, min_connections: 1", 1, 1)]
    [InlineData("max_connections: 200, min_connections: 200", 200, 200)]
    [InlineData("max_connections: 10000000, min_connections: 1", 10_000_000, 1)]
    public void Parse_MinUpToMax_IsAllowed(string web1, int max, int min)
    {
        Assert.Equal(new ConnectionLimit(max, min), LoadService(Service(web1: web1)).Backends[0].Limit);
    }

    [Fact]
    public void Parse_LimitsOnABlockBackend_AreRead()
    {
        var backend = LoadService(Service(web2: "max_connections: 5\nmin_connections: 2")).Backends[1];

        Assert.Equal(new ConnectionLimit(5, 2), backend.Limit);
    }

    [Fact]
    public void Parse_ClusterIpWithMaglev_IsAllowed()
    {
        Assert.Equal(SchedulerKind.Maglev, LoadService(ClusterService("maglev")).Scheduler);
    }

    // ---- refusals ------------------------------------------------------------------------------

    [Theory]
    [InlineData("lc", "lb.yaml:7: scheduler must be one of 'maglev', 'wlc' or 'wrr' (got 'lc')")]
    [InlineData("WLC", "lb.yaml:7: scheduler must be one of 'maglev', 'wlc' or 'wrr' (got 'WLC')")]
    [InlineData("''", "lb.yaml:7: scheduler must be one of 'maglev', 'wlc' or 'wrr' (got '')")]
    [InlineData("[wlc]", "lb.yaml:7: scheduler must be a single value, not a list")]
    public void Parse_BadScheduler_ReportsItsLine(string value, string expected)
    {
        AssertSingleError(Service(value), expected);
    }

    [Theory]
    [InlineData("wlc")]
    [InlineData("wrr")]
    public void Parse_ClusterIpWithAnotherScheduler_IsRefusedAtTheSchedulerLine(string scheduler)
    {
        AssertSingleError(ClusterService(scheduler),
            $"lb.yaml:7: scheduler {scheduler}: a clusterip service is always scheduled by maglev (every node must compute the same owner)");
    }

    [Theory]
    [InlineData(", max_connections: 200", "lb.yaml:12: unknown key 'max_connections'")]
    [InlineData(", min_connections: 150", "lb.yaml:12: unknown key 'min_connections'")]
    public void Parse_LimitOnAClusterNode_IsRefused(string node, string expected)
    {
        AssertSingleError(ClusterService("maglev", node), expected);
    }

    [Theory]
    [InlineData("max_connections: 0", "max_connections must be between 1 and 10000000 (got 0)")]
    [InlineData("max_connections: -5", "max_connections must be between 1 and 10000000 (got -5)")]
    [InlineData("max_connections: 10000001", "max_connections must be between 1 and 10000000 (got 10000001)")]
    [InlineData("max_connections: 1e3", "max_connections must be an integer (got '1e3')")]
    [InlineData("max_connections: 200, min_connections: 0", "min_connections must be between 1 and 10000000 (got 0)")]
    [InlineData("max_connections: 200, min_connections: -1", "min_connections must be between 1 and 10000000 (got -1)")]
    [InlineData("max_connections: 200, min_connections: 1.5", "min_connections must be an integer (got '1.5')")]
    [InlineData("max_connections: 200, min_connections: 201",
        "min_connections 201 is above max_connections 200 (a full backend takes new flows again below min_connections)")]
    [InlineData("min_connections: 150",
        "min_connections needs max_connections (a full backend takes new flows again below min_connections)")]
    // Only max's own error: a min checked against a max that was refused would be a second error about the same mistake.
    [InlineData("max_connections: 0, min_connections: 150", "max_connections must be between 1 and 10000000 (got 0)")]
    [InlineData("maxConnections: 200", "unknown key 'maxConnections' (did you mean 'max_connections'?)")]
    public void Parse_BadLimit_ReportsTheBackendLine(string web1, string message)
    {
        AssertSingleError(Service(web1: web1), $"lb.yaml:9: {message}");
    }

    [Fact]
    public void Parse_MinAboveMaxOnABlockBackend_NamesTheMinLine()
    {
        AssertSingleError(Service(web2: "max_connections: 5\nmin_connections: 6"),
            "lb.yaml:13: min_connections 6 is above max_connections 5 (a full backend takes new flows again below min_connections)");
    }

    // ---- lb check ------------------------------------------------------------------------------

    [Fact]
    public void CheckRun_ClusterIpWithWlc_PrintsTheLineAndReturnsTwo()
    {
        AssertCheckRefuses(ClusterService("wlc"),
            "7: scheduler wlc: a clusterip service is always scheduled by maglev (every node must compute the same owner)");
    }

    [Fact]
    public void CheckRun_ContractExample_PrintsOk()
    {
        AssertCheckOk(Service());
    }
}
