using System.Text.Json;
using LoadBalancer.Cli.Commands;
using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Model;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Commands;

/// <summary><c>lb ha master|backup|fault</c> as control requests, and <c>lb ha check</c>'s verdict on the
/// status document, against engines on the fake platform.</summary>
public class HaCommandTests
{
    private static Engine Engine(BalancerConfig config) => EngineBuilder.Build(config, new FakePlatform(Fixtures.Interfaces).Platform);

    private static BalancerConfig Pair(BalancerConfig config) => config with { Ha = new HaConfig() };

    private static BalancerConfig WebOnly => Fixtures.Config() with { Services = [Fixtures.Config().Services[0]] };

    [Fact]
    public void HaMaster_ByKeepalived_SwitchesTheRole_AndStatusSaysWhoAsked()
    {
        using var engine = Engine(Pair(WebOnly));
        var commands = new ControlCommands(engine);
        Assert.Equal("backup", JsonDocument.Parse(commands.Handle("status")).RootElement.GetProperty("ha").GetProperty("role").GetString());

        Assert.Equal("""{"ok":true,"message":"ha role master"}""", commands.Handle("ha master by keepalived (pid 42)"));

        var ha = JsonDocument.Parse(commands.Handle("status")).RootElement.GetProperty("ha");
        Assert.Equal("master", ha.GetProperty("role").GetString());
        Assert.Equal("keepalived (pid 42)", ha.GetProperty("changed_by").GetString());
        Assert.Contains("(no change)", commands.Handle("ha master by keepalived (pid 42)"));
        Assert.StartsWith($"lb {VersionInfo.Text}  up ", StatusReport.Text(commands.Handle("status")));
        Assert.Contains("  ha master since ", StatusReport.Text(commands.Handle("status")).Split('\n')[0]);
    }

    [Theory]
    [InlineData("ha")]
    [InlineData("ha leader")]
    [InlineData("ha master keepalived")]
    public void Ha_BadRequest_AnswersUsage(string request)
    {
        using var engine = Engine(Pair(WebOnly));
        Assert.Equal("""{"error":"usage: ha master|backup|fault [by WHO]"}""", new ControlCommands(engine).Handle(request));
        Assert.Equal(HaRole.Backup, engine.Roles.Role);
    }

    [Fact]
    public void Ha_LoneBalancer_Refused_AndStatusHasNoHa()
    {
        using var engine = Engine(WebOnly);
        var commands = new ControlCommands(engine);
        Assert.Contains("no ha: section", commands.Handle("ha backup"));
        Assert.False(JsonDocument.Parse(commands.Handle("status")).RootElement.TryGetProperty("ha", out _));
    }

    [Fact]
    public void Check_EveryServiceHasAnActiveBackend_IsOk()
    {
        using var engine = Engine(Pair(WebOnly));
        Assert.Null(HaCommand.Verdict(new ControlCommands(engine).Handle("status"), out var summary));
        Assert.Equal("ok: 1 service, each with a usable backend, role backup", summary);
    }

    [Fact]
    public void Check_AServiceWithoutUsableBackend_NamesItAndWhy()
    {
        using var engine = Engine(Fixtures.Config());
        // "dark" has one backend whose MAC is not resolved: it takes no flow.
        Assert.Equal("service dark has no usable backend (1 unresolved)", HaCommand.Verdict(new ControlCommands(engine).Handle("status"), out _));
    }

    [Fact]
    public void Check_AllBackendsDown_NamesTheService()
    {
        using var engine = Engine(Pair(WebOnly));
        engine.Control.SetIntent("web", "web-1", BackendIntent.Draining);
        Assert.Equal("service web has no usable backend (1 draining)", HaCommand.Verdict(new ControlCommands(engine).Handle("status"), out _));
    }

    [Fact]
    public void Check_NoEngineAtTheSocket_ExitsOneWithTheReason()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var socket = Path.Combine(Path.GetTempPath(), $"lb-test-{Guid.NewGuid():N}.sock");
        Assert.Equal(1, HaCommand.Check(null, socket, stdout, stderr));
        Assert.StartsWith($"engine not answering at {socket}: ", stderr.ToString());
        Assert.Equal("", stdout.ToString());
    }

    [Fact]
    public void Caller_NamesTheFirstAncestorThatIsNotAShell()
    {
        var caller = HaCommand.Caller();
        Assert.Matches(@"^\S+ \(pid \d+\)$", caller);
        Assert.DoesNotMatch(@"^(sh|bash|dash) ", caller);
    }
}
