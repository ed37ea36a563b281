using System.Text.Json;
using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Control;

/// <summary>What the control socket says of an IPv6 service beside the IPv4 ones: its addresses as written, its
/// endpoint in brackets, and lb flow/flows refusing it (their lookups build IPv4 keys).</summary>
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

    [Theory]
    [InlineData("flow web6 [2001:db8::5]:41000")]
    [InlineData("flows web6")]
    public void Flow_Ipv6Service_IsRefusedNotAnsweredWrongly(string request)
    {
        Assert.Equal("""{"error":"service web6 is IPv6 (vip 2001:db8::100): lb flow and lb flows read IPv4 services only so far"}""",
            _commands.Handle(request));
    }
}
