using System.Globalization;
using System.Text.Json;
using LoadBalancer.Cli.Control;
using LoadBalancer.Cli.Http;
using LoadBalancer.Core.Model;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Http;

/// <summary><c>/metrics</c> against a real engine on the fake platform: every family declared, every value the
/// status document's, series following the services and backends through a reload.</summary>
public sealed class MetricsExpositionTests
{
    private static readonly string[] Families =
    [
        "lb_backend_packets_total", "lb_backend_bytes_total", "lb_backend_flows", "lb_backend_active", "lb_backend_full", "lb_backend_up", "lb_backend_health", "lb_backend_weight",
        "lb_health_checks_total", "lb_service_packets_total", "lb_drops_total", "lb_ring_drops_total", "lb_flow_table_entries",
        "lb_flow_table_capacity", "lb_nat_sessions", "lb_cluster_node_alive", "lb_build_info", "lb_start_time_seconds",
    ];

    /// <summary>The samples of the exposition: "name{labels}" to value.</summary>
    private static Dictionary<string, double> Samples(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#'))
            .Select(l => (Key: l[..l.LastIndexOf(' ')], Value: double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)))
            .ToDictionary(p => p.Key, p => p.Value);

    [Fact]
    public void Text_EveryFamilyDeclared_ValuesAreTheStatusDocuments()
    {
        var engine = new TestEngine(Fixtures.Config());
        engine.Send(Fixtures.WebTcp().Build());
        engine.Engine.Control.SetIntent("pool", "pool-2", BackendIntent.Draining);
        var status = StatusReport.Json(engine.Engine);

        var text = new MetricsExposition().Text(status);

        foreach (var family in Families)
        {
            Assert.Contains($"# HELP {family} ", text);
            Assert.Contains($"# TYPE {family} ", text);
        }
        var samples = Samples(text);
        using var doc = JsonDocument.Parse(status);
        var root = doc.RootElement;
        foreach (var drop in root.GetProperty("drops").EnumerateObject())
            Assert.Equal(drop.Value.GetInt64(), samples[$"lb_drops_total{{reason=\"{drop.Name}\"}}"]);
        Assert.Equal(root.GetProperty("drops").EnumerateObject().Count(), samples.Keys.Count(k => k.StartsWith("lb_drops_total{", StringComparison.Ordinal)));
        foreach (var s in root.GetProperty("services").EnumerateArray())
        {
            var service = s.GetProperty("name").GetString();
            Assert.Equal(s.GetProperty("packets").GetInt64(), samples[$"lb_service_packets_total{{service=\"{service}\"}}"]);
            foreach (var b in s.GetProperty("backends").EnumerateArray())
            {
                var labels = $"service=\"{service}\",backend=\"{b.GetProperty("name").GetString()}\"";
                Assert.Equal(b.GetProperty("packets").GetInt64(), samples[$"lb_backend_packets_total{{{labels}}}"]);
                Assert.Equal(b.GetProperty("bytes").GetInt64(), samples[$"lb_backend_bytes_total{{{labels}}}"]);
                Assert.Equal(b.GetProperty("active_flows").GetInt64(), samples[$"lb_backend_flows{{{labels}}}"]);
                Assert.Equal(b.GetProperty("active").GetInt64(), samples[$"lb_backend_active{{{labels}}}"]);
                Assert.Equal(b.GetProperty("full").GetBoolean() ? 1 : 0, samples[$"lb_backend_full{{{labels}}}"]);
                Assert.Equal(b.GetProperty("weight").GetInt64(), samples[$"lb_backend_weight{{{labels}}}"]);
                Assert.Equal(b.GetProperty("state").GetString() == "active" ? 1 : 0, samples[$"lb_backend_up{{{labels}}}"]);
                foreach (var h in new[] { "healthy", "unhealthy", "unknown" })
                    Assert.Equal(b.GetProperty("health").GetString() == h ? 1 : 0, samples[$"lb_backend_health{{{labels},state=\"{h}\"}}"]);
            }
        }
        Assert.Equal(1, samples["lb_backend_flows{service=\"web\",backend=\"web-1\"}"]);
        Assert.Equal(0, samples["lb_backend_up{service=\"pool\",backend=\"pool-2\"}"]);
        Assert.Equal(1, samples[$"lb_build_info{{version=\"{VersionInfo.Text}\"}}"]);
        Assert.Equal(root.GetProperty("start_time_seconds").GetDouble(), samples["lb_start_time_seconds"], 3);
    }

    [Fact]
    public void Text_AfterAReloadRemovingABackend_ItsSeriesAreGone()
    {
        var engine = new TestEngine(Fixtures.Config());
        var metrics = new MetricsExposition();
        Assert.Contains("backend=\"pool-3\"", metrics.Text(StatusReport.Json(engine.Engine)));
        var pool = engine.Config.Services.Single(s => s.Name == "pool");
        var next = engine.Config with
        {
            Services = engine.Config.Services.Select(s => s == pool ? s with { Backends = s.Backends.Where(b => b.Name != "pool-3").ToArray() } : s).ToArray(),
        };
        Assert.True(engine.Engine.Reload(next).Ok);

        var text = metrics.Text(StatusReport.Json(engine.Engine));

        Assert.DoesNotContain("backend=\"pool-3\"", text);
        Assert.Contains("backend=\"pool-1\"", text);
    }
}
