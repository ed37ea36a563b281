using System.Text.Json;
using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Control;

/// <summary>What the control socket says of an IPv6 service beside the IPv4 ones: its addresses as written, its
/// endpoint in brackets, and lb flow/flows reading its IPv6 flow table.</summary>
public sealed class StatusIpv6Tests : IDisposable
{
    private static readonly ServiceConfig Web6 = Fixtures.Service("web6", "2001:db8::100", 80, TransportProtocol.Tcp,
        Fixtures.Backend("web6-1", "2001:db8:1::11", MacAddress.Parse("02:00:00:00:06:11")));

    private readonly Engine _engine = EngineBuilder.Build(Fixtures.Config() with { Services = [.. Fixtures.Config().Services, Web6] },
        new FakePlatform(Fixtures.Interfaces).Platform);
    private readonly ControlCommands _commands;

    public StatusIpv6Tests() => _commands = new ControlCommands(_engine);

    public void Dispose() => _engine.Dispose();

    private JsonElement Web6Status() =>
        JsonDocument.Parse(_commands.Handle("status")).RootElement.GetProperty("services").EnumerateArray()
            .Single(s => s.GetProperty("name").GetString() == "web6");

    [Fact]
    public void Status_Ipv6Service_ShowsItsVipAndBackendAddress()
    {
        var web6 = Web6Status();

        Assert.Equal("2001:db8::100", web6.GetProperty("vip").GetString());
        Assert.Equal("2001:db8:1::11", web6.GetProperty("backends")[0].GetProperty("address").GetString());
    }

    [Fact]
    public void StatusText_Ipv6Service_NamesItsEndpointInBrackets()
    {
        var text = StatusReport.Text(_commands.Handle("status"));

        Assert.Contains("service web6  [2001:db8::100]:80/tcp  mode dr", text);
        Assert.Contains("service web  10.0.0.100:80/tcp  mode dr", text);
    }

    [Fact]
    public void Flow_Ipv6Service_KnownFlowAndListing()
    {
        var engine = new TestEngine(Fixtures.Config() with { Services = [.. Fixtures.Config().Services, Web6] });
        var commands = new ControlCommands(engine.Engine);
        var sent = engine.Send(Ipv6FrameBuilder.Tcp("2001:db8::5", 41000, "2001:db8::100", 80).Flags(TcpFlags.Syn).Build());
        Assert.Equal("web6-1", engine.BackendOf(sent.Output!, "web6"));
        engine.Clock.Advance(7);

        Assert.Equal("""{"backend":"web6-1","source":"flow","slot":null,"worker":0,"state":"syn","idle_ms":7}""",
            commands.Handle("flow web6 [2001:db8::5]:41000"));
        var unseen = JsonDocument.Parse(commands.Handle("flow web6 [2001:db8::5]:41001")).RootElement;
        Assert.Equal("maglev", unseen.GetProperty("source").GetString());
        var flows = JsonDocument.Parse(commands.Handle("flows web6")).RootElement;
        Assert.Equal(1, flows.GetProperty("total").GetInt32());
        Assert.Equal("[2001:db8::5]:41000", flows.GetProperty("flows")[0].GetProperty("client").GetString());
        Assert.Equal(0, JsonDocument.Parse(commands.Handle("flows web")).RootElement.GetProperty("total").GetInt32());
    }

    [Fact]
    public void Flow_Ipv6Service_AnIpv4Client_IsRefused()
    {
        Assert.Equal("""{"error":"service web6 is IPv6: its clients are [IPv6]:PORT"}""", _commands.Handle("flow web6 10.0.0.1:5"));
    }
}
