using System.Text.Json;
using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Model;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Control;

/// <summary>The control socket's requests against an engine on the fake platform: status, operator commands and
/// health reports from an external checker, without root.</summary>
public sealed class ControlCommandsTests : IDisposable
{
    private readonly Engine _engine = EngineBuilder.Build(Fixtures.Config(), new FakePlatform(Fixtures.Interfaces).Platform);
    private readonly ControlCommands _commands;

    public ControlCommandsTests() => _commands = new ControlCommands(_engine);

    public void Dispose() => _engine.Dispose();

    private JsonElement Status() => JsonDocument.Parse(_commands.Handle("status")).RootElement;

    private static JsonElement BackendIn(JsonElement status, string service, string backend) =>
        status.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == service)
            .GetProperty("backends").EnumerateArray().Single(b => b.GetProperty("name").GetString() == backend);

    [Fact]
    public void Status_FreshEngine_ListsEveryServiceAndItsBackends()
    {
        var status = Status();

        Assert.Equal(["web", "dns", "pool", "dark", "drained"], status.GetProperty("services").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        var pool1 = BackendIn(status, "pool", "pool-1");
        Assert.Equal("active", pool1.GetProperty("state").GetString());
        Assert.Equal("dr", status.GetProperty("services")[2].GetProperty("mode").GetString());
        Assert.Equal("eth0", status.GetProperty("services")[2].GetProperty("interface").GetString());
        Assert.Equal("unresolved", BackendIn(status, "dark", "dark-1").GetProperty("state").GetString());
    }

    [Fact]
    public void BackendDrain_ThenStatus_ShowsDraining_AndRepeatingSaysNoChange()
    {
        Assert.Equal("""{"ok":true,"message":"pool/pool-1 draining: no new flows, existing flows continue"}""", _commands.Handle("backend drain pool pool-1"));
        Assert.Equal("draining", BackendIn(Status(), "pool", "pool-1").GetProperty("state").GetString());
        Assert.Equal(0, BackendIn(Status(), "pool", "pool-1").GetProperty("table_weight").GetInt32());

        Assert.Contains("(no change)", _commands.Handle("backend drain pool pool-1"));
    }

    [Fact]
    public void BackendWeight_OutOfRangeOrUnknown_Refused()
    {
        Assert.Contains("\"error\"", _commands.Handle("backend weight pool pool-1 1000001"));
        Assert.Equal("""{"error":"no backend nope in service pool"}""", _commands.Handle("backend weight pool nope 5"));
        Assert.Equal(100, BackendIn(Status(), "pool", "pool-1").GetProperty("weight").GetInt32());
    }

    [Fact]
    public void Health_ReportFromAnExternalChecker_ReachesTheStateTableAndTheTable()
    {
        var report = """health {"service":"pool","backend":"pool-2","health":"unhealthy","ok":false,"detail":"tcp connect refused","consecutive":2,"needed":2}""";

        Assert.Equal("""{"ok":true,"message":"applied; table rebuilt"}""", _commands.Handle(report));
        var pool2 = BackendIn(Status(), "pool", "pool-2");
        Assert.Equal("down", pool2.GetProperty("state").GetString());
        Assert.Equal("tcp connect refused", pool2.GetProperty("last_check").GetProperty("detail").GetString());
        Assert.Equal(BackendHealth.Unhealthy, _engine.Backends.Get("pool", "pool-2")!.Value.Health);

        Assert.Equal("""{"ok":true,"message":"applied"}""", _commands.Handle(report));
    }

    [Fact]
    public void Status_ClusterIp_ShowsTheTableTheNodesAndTheTransition()
    {
        using var engine = EngineBuilder.Build(ClusterFixture.Config(1, initial: BackendHealth.Healthy),
            new FakePlatform([new TestInterface("eth", ClusterFixture.NodeMac, FrameBuilder.Ip(ClusterFixture.NodeIp(1)))]).Platform);

        var service = JsonDocument.Parse(new ControlCommands(engine).Handle("status")).RootElement.GetProperty("services")[0];

        Assert.Equal("clusterip", service.GetProperty("mode").GetString());
        Assert.True(service.GetProperty("quorum").GetBoolean());
        Assert.Equal(1, service.GetProperty("local_node").GetInt32());
        Assert.Equal(3, service.GetProperty("nodes").GetArrayLength());
        Assert.All(service.GetProperty("nodes").EnumerateArray(), n => Assert.InRange(n.GetProperty("share").GetDouble(), 0.30, 0.37));
        Assert.True(service.GetProperty("transition").GetProperty("tcp_syn_only_ms").GetInt64() > 0);
        Assert.False(string.IsNullOrEmpty(service.GetProperty("digest").GetString()));
    }
}
