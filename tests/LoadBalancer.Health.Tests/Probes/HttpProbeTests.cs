using System.Diagnostics;
using System.Net;
using System.Text;
using LoadBalancer.Core.Model;
using LoadBalancer.Health.Probes;
using static LoadBalancer.Health.Tests.TestServers;

namespace LoadBalancer.Health.Tests.Probes;

public class HttpProbeTests
{
    private static readonly HealthCheckConfig Check = new() { Type = HealthCheckType.Http, Timeout = TimeSpan.FromSeconds(10), SoftStopStatus = null };
    private static readonly IHealthProbe Probe = HealthProbes.For(HealthCheckType.Http);

    [Theory]
    [InlineData(200, true)]
    [InlineData(204, true)]
    [InlineData(302, true)]
    [InlineData(404, false)]
    [InlineData(503, false)]
    public async Task CheckAsync_Status_OkWhenInDefaultExpect(int status, bool ok)
    {
        await using var server = new HttpTestServer(status);

        var result = await Probe.CheckAsync(Target(server.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(ok, $"http {status}"), result);
    }

    [Fact]
    public async Task CheckAsync_SoftStopStatus_IsAliveButAsksForDrain()
    {
        await using var server = new HttpTestServer(404);

        var result = await Probe.CheckAsync(Target(server.Port, Check with { SoftStopStatus = 404 }), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "http 404 (soft-stop)", SoftStop: true), result);
    }

    [Fact]
    public async Task CheckAsync_DefaultConfig_404IsSoftStop()
    {
        await using var server = new HttpTestServer(404);

        var result = await Probe.CheckAsync(Target(server.Port, new HealthCheckConfig { Type = HealthCheckType.Http }), CancellationToken.None);

        Assert.True(result.SoftStop);
    }

    [Theory]
    [InlineData(200, true)]
    [InlineData(302, false)]
    [InlineData(418, true)]
    [InlineData(419, false)]
    public async Task CheckAsync_Status_OkOnlyWhenInConfiguredExpect(int status, bool ok)
    {
        await using var server = new HttpTestServer(status);
        var check = Check with { Expect = [new(200, 200), new(400, 418)] };

        var result = await Probe.CheckAsync(Target(server.Port, check), CancellationToken.None);

        Assert.Equal(ok, result.Ok);
    }

    [Fact]
    public async Task CheckAsync_ConfiguredRequestAndHost_ArriveAsConfigured()
    {
        await using var server = new HttpTestServer(200);
        var check = Check with { Request = "GET /healthz?deep=1 HTTP/1.1", Host = "app.example:8080" };

        await Probe.CheckAsync(Target(server.Port, check), CancellationToken.None);

        var request = Assert.Single(server.Requests);
        Assert.Equal(["GET /healthz?deep=1 HTTP/1.1", "Host: app.example:8080", "Connection: close"], request.Split("\r\n"));
    }

    [Fact]
    public async Task CheckAsync_Http11WithoutHost_SendsTheAddressAsHost()
    {
        await using var server = new HttpTestServer(200);
        var check = Check with { Request = "HEAD / HTTP/1.1" };

        await Probe.CheckAsync(Target(server.Port, check), CancellationToken.None);

        var request = Assert.Single(server.Requests);
        Assert.Equal(["HEAD / HTTP/1.1", $"Host: 127.0.0.1:{server.Port}", "Connection: close"], request.Split("\r\n"));
    }

    [Fact]
    public async Task CheckAsync_DefaultHttp10Request_SendsNoHost()
    {
        await using var server = new HttpTestServer(200);

        await Probe.CheckAsync(Target(server.Port, Check), CancellationToken.None);

        var request = Assert.Single(server.Requests);
        Assert.Equal(["GET / HTTP/1.0", "Connection: close"], request.Split("\r\n"));
    }

    [Fact]
    public async Task CheckAsync_Http10WithHost_SendsTheHost()
    {
        await using var server = new HttpTestServer(200);

        await Probe.CheckAsync(Target(server.Port, Check with { Host = "app.example" }), CancellationToken.None);

        Assert.Contains("\r\nHost: app.example\r\n", Assert.Single(server.Requests) + "\r\n");
    }

    [Fact]
    public async Task CheckAsync_ServerNeverAnswers_FailsWithTimeout()
    {
        await using var server = new SilentTcpServer();
        var check = Check with { Timeout = TimeSpan.FromMilliseconds(300) };

        var clock = Stopwatch.StartNew();
        var result = await CheckWithinTimeoutAsync(Probe, server.Port, check);

        Assert.Equal(new ProbeResult(false, "timeout after 300 ms"), result);
        Assert.True(clock.Elapsed >= check.Timeout - TimeSpan.FromMilliseconds(50), $"gave up after {clock.Elapsed}");
        Assert.Equal(1, server.Accepted);
    }

    [Fact]
    public async Task CheckAsync_ClosedPort_FailsRefused()
    {
        using var closed = ClosedTcpPort();

        var result = await Probe.CheckAsync(Target(closed.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "http connect refused"), result);
    }

    [Fact]
    public async Task CheckAsync_ServerHangsUpAtOnce_FailsBeforeStatusLine()
    {
        await using var server = new FixedReplyTcpServer("");

        var result = await Probe.CheckAsync(Target(server.Port, Check), CancellationToken.None);

        Assert.False(result.Ok);
        // Closed cleanly it is "closed before status line"; if the request was still unread when the
        // server closed, the kernel sends a reset instead.
        Assert.Contains(result.Detail, new[] { "http closed before status line", "http read reset", "http send reset" });
    }

    [Fact]
    public async Task CheckAsync_NotAnHttpServer_FailsWithBadStatusLine()
    {
        await using var server = new FixedReplyTcpServer("SSH-2.0-OpenSSH_9.2\r\n");

        var result = await Probe.CheckAsync(Target(server.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "http bad status line 'SSH-2.0-OpenSSH_9.2'"), result);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK", 200)]
    [InlineData("HTTP/1.0 503 Service Unavailable", 503)]
    [InlineData("HTTP/1.1 204", 204)]
    [InlineData("HTTP/1.1 404 ", 404)]
    public void TryParseStatus_ValidLine_ReturnsStatus(string line, int status)
    {
        Assert.True(HttpProbe.TryParseStatus(line, out var parsed));
        Assert.Equal(status, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("HTTP/1.1")]
    [InlineData("HTTP/1.1 20")]
    [InlineData("HTTP/1.1 2000 OK")]
    [InlineData("HTTP/1.1 abc OK")]
    [InlineData("HTTP/1.1 099 Low")]
    [InlineData("SSH-2.0 200 OK")]
    public void TryParseStatus_InvalidLine_ReturnsFalse(string line)
    {
        Assert.False(HttpProbe.TryParseStatus(line, out _));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("app.example", "app.example")]
    [InlineData("app.example:8443", "app.example")]
    [InlineData("[::1]:8443", null)]
    public void ServerName_Host_IsTheNameWithoutPort(string? host, string? expected)
    {
        Assert.Equal(expected, HttpProbe.ServerName(host));
    }

    [Fact]
    public async Task CheckAsync_Ipv6Http11WithoutHost_SendsTheBracketedAddressAsHost()
    {
        await using var server = new HttpTestServer(200, address: IPAddress.IPv6Loopback);
        var check = Check with { Request = "HEAD / HTTP/1.1" };

        var result = await Probe.CheckAsync(Target(server.Port, check, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "http 200"), result);
        Assert.Equal(["HEAD / HTTP/1.1", $"Host: [::1]:{server.Port}", "Connection: close"], Assert.Single(server.Requests).Split("\r\n"));
    }

    [Fact]
    public async Task CheckAsync_Ipv6Status_FailsWhenNotExpected()
    {
        await using var server = new HttpTestServer(503, address: IPAddress.IPv6Loopback);

        var result = await Probe.CheckAsync(Target(server.Port, Check, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "http 503"), result);
    }

    [Fact]
    public async Task CheckAsync_Ipv6ClosedPort_FailsRefused()
    {
        using var closed = ClosedTcpPort(IPAddress.IPv6Loopback);

        var result = await Probe.CheckAsync(Target(closed.Port, Check, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "http connect refused"), result);
    }

    [Fact]
    public void Request_Ipv6TargetOnDefaultPort_HostIsTheBracketedAddressAlone()
    {
        var target = new HealthTarget("web", "web1", IPAddress.Parse("2001:db8::5"), 80, Check with { Request = "GET / HTTP/1.1" });

        Assert.Equal("GET / HTTP/1.1\r\nHost: [2001:db8::5]\r\nConnection: close\r\n\r\n", Encoding.ASCII.GetString(HttpProbe.Request(target, tls: false)));
    }
}
