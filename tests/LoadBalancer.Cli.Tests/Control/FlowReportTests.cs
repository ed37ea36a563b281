using System.Text.Json;
using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Control;

/// <summary>The control socket's <c>flow</c> and <c>flows</c> against a real engine on the fake platform, and what
/// <c>lb flow</c> and <c>lb flows</c> print of the answers.</summary>
public sealed class FlowReportTests
{
    private readonly TestEngine _engine = new(Fixtures.Config());
    private readonly ControlCommands _commands;

    public FlowReportTests() => _commands = new ControlCommands(_engine.Engine,
        access: new ControlAccess(999, "lb", adminGroup: null));

    /// <summary>A peer that may only read: flow and flows are not gated.</summary>
    private static readonly ControlPeer Monitor = new(12, 1001, 1001, []);

    private string Ask(string request) => _commands.Handle(request, Monitor);

    private string Syn(ushort port) => _engine.BackendOf(_engine.Send(
        FrameBuilder.Tcp(Fixtures.ClientIp, port, Fixtures.PoolVip, Fixtures.PoolPort).Flags(TcpFlags.Syn).Build()).Output!, "pool");

    [Fact]
    public void Flow_KnownFlow_AnswersTheObjectAndTheFirstLine()
    {
        var backend = Syn(40001);
        _engine.Clock.Advance(12);

        var answer = Ask($"flow pool {Fixtures.ClientIp}:40001");

        Assert.Equal($$"""{"backend":"{{backend}}","source":"flow","slot":null,"worker":0,"state":"syn","idle_ms":12}""", answer);
        Assert.Equal($"{backend} (flow) worker 0\nstate syn, idle 12 ms", FlowReport.FlowText(answer));
    }

    [Fact]
    public void Flow_UnseenPort_MaglevSlotLine()
    {
        var answer = JsonDocument.Parse(Ask($"flow pool {Fixtures.ClientIp}:40002")).RootElement;
        var slot = answer.GetProperty("slot").GetInt32();

        Assert.Equal("maglev", answer.GetProperty("source").GetString());
        Assert.Equal(JsonValueKind.Null, answer.GetProperty("state").ValueKind);
        Assert.Equal($"{answer.GetProperty("backend").GetString()} (maglev slot {slot}) worker 0", FlowReport.FlowText(answer.GetRawText()));
        Assert.Equal(answer.GetProperty("backend").GetString(), Syn(40002));
    }

    [Fact]
    public void Flow_NothingTakesIt_NoneLine()
    {
        Assert.Equal("- (none) worker 0", FlowReport.FlowText(Ask($"flow drained {Fixtures.ClientIp}:1")));
    }

    [Theory]
    [InlineData("flow nope 192.0.2.10:1", "no service nope")]
    [InlineData("flow pool 192.0.2.10", "bad client address '192.0.2.10': IPv4:PORT or [IPv6]:PORT expected")]
    [InlineData("flow pool ::1:80", "bad client address '::1:80': IPv4:PORT or [IPv6]:PORT expected")]
    [InlineData("flow pool [192.0.2.10]:80", "bad client address '[192.0.2.10]:80': IPv4:PORT or [IPv6]:PORT expected")]
    [InlineData("flow pool [::1]:80", "service pool is IPv4: its clients are IPv4:PORT")]
    [InlineData("flow pool 192.0.2.10:70000", "bad client address '192.0.2.10:70000': IPv4:PORT or [IPv6]:PORT expected")]
    [InlineData("flow pool", FlowReport.FlowUsage)]
    [InlineData("flows nope", "no service nope")]
    [InlineData("flows pool backend nope", "no backend nope in service pool")]
    [InlineData("flows pool limit 0", "limit must be a positive number, got '0'")]
    [InlineData("flows pool sideways 3", FlowReport.FlowsUsage)]
    public void Flow_BadQuestion_Error(string request, string error)
    {
        Assert.Equal(error, JsonDocument.Parse(Ask(request)).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public void Flows_ListsTheServicesFlowsWithTheContractFields()
    {
        var backends = Enumerable.Range(41000, 6).ToDictionary(p => $"{Fixtures.ClientIp}:{p}", p => Syn((ushort)p));
        _engine.Clock.Advance(3);

        var answer = Ask("flows pool");
        var list = JsonDocument.Parse(FlowReport.FlowsJson(answer)).RootElement;

        Assert.Equal(JsonValueKind.Array, list.ValueKind);
        Assert.All(list.EnumerateArray(), f => Assert.Equal(["client", "backend", "state", "idle_ms", "worker"], f.EnumerateObject().Select(p => p.Name)));
        Assert.Equal(backends, list.EnumerateArray().ToDictionary(f => f.GetProperty("client").GetString()!, f => f.GetProperty("backend").GetString()!));
        Assert.All(list.EnumerateArray(), f => Assert.Equal(3, f.GetProperty("idle_ms").GetInt64()));
        Assert.Equal(7, FlowReport.FlowsText(answer).Split('\n').Length);
        Assert.DoesNotContain("shown", FlowReport.FlowsText(answer));
    }

    [Fact]
    public void Flows_LimitAndBackend_TextSaysWhenCut()
    {
        var backends = Enumerable.Range(41100, 12).Select(p => Syn((ushort)p)).ToList();
        var one = backends[0];

        var cut = FlowReport.FlowsText(Ask("flows pool limit 4"));
        var only = JsonDocument.Parse(FlowReport.FlowsJson(Ask($"flows pool limit 100 backend {one}"))).RootElement;

        Assert.Equal(6, cut.Split('\n').Length);
        Assert.EndsWith("... 4 of 12 flows shown (--limit 4); --limit N shows more", cut);
        Assert.Equal(backends.Count(b => b == one), only.GetArrayLength());
        Assert.All(only.EnumerateArray(), f => Assert.Equal(one, f.GetProperty("backend").GetString()));
    }
}
