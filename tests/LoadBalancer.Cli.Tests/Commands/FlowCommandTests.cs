using LoadBalancer.Cli.Commands;
using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Commands;

/// <summary><c>lb flow</c> and <c>lb flows</c> end to end: a real control socket in front of an engine on the fake
/// platform, the commands' output and exit codes.</summary>
public sealed class FlowCommandTests : IDisposable
{
    private readonly TestEngine _engine = new(Fixtures.Config());
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"lb-flow-{Guid.NewGuid():N}.sock");
    private readonly ControlServer _server;

    public FlowCommandTests()
    {
        var log = new EngineLog(TextWriter.Null);
        _server = ControlServer.Start(_socket, null, _engine.Engine, new ConfigReload(_engine.Engine, log),
            new ControlAccess(999, "lb", adminGroup: null), log);
    }

    public void Dispose()
    {
        _server.Dispose();
        File.Delete(_socket);
    }

    private (int Code, string Out, string Err) Run(string request, Func<string, string> render)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = FlowCommand.Run(null, _socket, request, render, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Flow_KnownFlow_FirstLineAndExit0()
    {
        var sent = _engine.Send(FrameBuilder.Tcp(Fixtures.ClientIp, 40001, Fixtures.PoolVip, Fixtures.PoolPort).Flags(TcpFlags.Syn).Build());

        var (code, stdout, _) = Run($"flow pool {Fixtures.ClientIp}:40001", FlowReport.FlowText);

        Assert.Equal(0, code);
        Assert.Equal($"{_engine.BackendOf(sent.Output!, "pool")} (flow) worker 0", stdout.Split('\n')[0]);
    }

    [Fact]
    public void Flow_UnknownServiceOrBadAddress_Exit1WithTheReason()
    {
        Assert.Equal((1, "", "no service nope\n"), Run($"flow nope {Fixtures.ClientIp}:1", FlowReport.FlowText));
        Assert.Equal(1, Run("flow pool nonsense", FlowReport.FlowText).Code);
    }

    [Fact]
    public void Flow_EngineUnreachable_Exit1()
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        Assert.Equal(1, FlowCommand.Run(null, _socket + ".gone", "flow pool 192.0.2.10:1", FlowReport.FlowText, stdout, stderr));
        Assert.StartsWith("cannot reach the engine at", stderr.ToString());
    }

    [Fact]
    public void Flows_Json_IsTheList()
    {
        _engine.Send(FrameBuilder.Tcp(Fixtures.ClientIp, 40002, Fixtures.PoolVip, Fixtures.PoolPort).Flags(TcpFlags.Syn).Build());

        var (code, stdout, _) = Run(FlowCommand.FlowsRequest("pool", null, 10), FlowReport.FlowsJson);

        Assert.Equal(0, code);
        Assert.StartsWith($$"""[{"client":"{{Fixtures.ClientIp}}:40002","backend":""", stdout);
    }

    [Fact]
    public void FlowsRequest_OptionsBecomeWords()
    {
        Assert.Equal("flows web limit 1000", FlowCommand.FlowsRequest("web", null, 1000));
        Assert.Equal("flows web limit 5 backend rs1", FlowCommand.FlowsRequest("web", "rs1", 5));
    }

    [Fact]
    public void Program_RegistersFlowAndFlows()
    {
        var root = Program.BuildCommand();

        Assert.Empty(root.Parse(["flow", "web", "10.0.0.1:1", "--json", "--socket", "/x"]).Errors);
        Assert.Empty(root.Parse(["flows", "web", "--backend", "rs1", "--limit", "5", "--json", "--config", "/x"]).Errors);
    }
}
