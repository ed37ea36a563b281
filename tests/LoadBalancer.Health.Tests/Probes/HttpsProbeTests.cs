using System.Net;
using System.Security.Cryptography.X509Certificates;
using LoadBalancer.Core.Model;
using static LoadBalancer.Health.Tests.TestServers;

namespace LoadBalancer.Health.Tests.Probes;

public sealed class HttpsProbeTests : IDisposable
{
    private const string Name = "backend.test";
    private static readonly HealthCheckConfig Check = new() { Type = HealthCheckType.Https, Timeout = TimeSpan.FromSeconds(10) };
    private static readonly IHealthProbe Probe = HealthProbes.For(HealthCheckType.Https);

    private readonly X509Certificate2 _certificate = SelfSignedCertificate(Name);

    public void Dispose() => _certificate.Dispose();

    [Fact]
    public async Task CheckAsync_SelfSignedWithoutVerify_OkWithHostAsSni()
    {
        await using var server = new HttpTestServer(200, _certificate);
        var check = Check with { Request = "GET /health HTTP/1.1", Host = $"{Name}:{8443}" };

        var result = await Probe.CheckAsync(Target(server.Port, check), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "https 200"), result);
        Assert.Equal(Name, Assert.Single(server.ServerNames));
        Assert.Equal(["GET /health HTTP/1.1", $"Host: {Name}:8443", "Connection: close"], Assert.Single(server.Requests).Split("\r\n"));
    }

    [Fact]
    public async Task CheckAsync_Status503_Fails()
    {
        await using var server = new HttpTestServer(503, _certificate);

        var result = await Probe.CheckAsync(Target(server.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "https 503"), result);
    }

    [Fact]
    public async Task CheckAsync_NoHost_SendsNoSni()
    {
        await using var server = new HttpTestServer(200, _certificate);

        var result = await Probe.CheckAsync(Target(server.Port, Check), CancellationToken.None);

        Assert.True(result.Ok, result.Detail);
        Assert.Equal("", Assert.Single(server.ServerNames));
    }

    [Fact]
    public async Task CheckAsync_SelfSignedWithVerify_FailsUntrusted()
    {
        await using var server = new HttpTestServer(200, _certificate);
        var check = Check with { Host = Name, VerifyCertificate = true };

        var result = await Probe.CheckAsync(Target(server.Port, check), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "https certificate untrusted"), result);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task CheckAsync_ServerNeverAnswersHandshake_FailsWithTimeout()
    {
        await using var server = new SilentTcpServer();
        var check = Check with { Timeout = TimeSpan.FromMilliseconds(300) };

        var result = await CheckWithinTimeoutAsync(Probe, server.Port, check);

        Assert.Equal(new ProbeResult(false, "timeout after 300 ms"), result);
    }

    [Fact]
    public async Task CheckAsync_PlainServerHangsUp_FailsHandshake()
    {
        await using var server = new FixedReplyTcpServer("HTTP/1.1 400 Bad Request\r\n\r\n");

        var result = await Probe.CheckAsync(Target(server.Port, Check), CancellationToken.None);

        Assert.False(result.Ok);
        Assert.StartsWith("https handshake", result.Detail);
    }

    [Fact]
    public async Task CheckAsync_Ipv6SelfSignedWithoutVerify_OkWithHostAsSni()
    {
        await using var server = new HttpTestServer(200, _certificate, IPAddress.IPv6Loopback);
        var check = Check with { Request = "GET /health HTTP/1.1", Host = Name };

        var result = await Probe.CheckAsync(Target(server.Port, check, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "https 200"), result);
        Assert.Equal(Name, Assert.Single(server.ServerNames));
    }

    [Fact]
    public async Task CheckAsync_Ipv6NoHost_SendsNoSniAndTheBracketedAddressAsHost()
    {
        await using var server = new HttpTestServer(200, _certificate, IPAddress.IPv6Loopback);

        var result = await Probe.CheckAsync(Target(server.Port, Check with { Request = "GET / HTTP/1.1" }, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.True(result.Ok, result.Detail);
        Assert.Equal("", Assert.Single(server.ServerNames));
        Assert.Contains($"\r\nHost: [::1]:{server.Port}\r\n", Assert.Single(server.Requests) + "\r\n");
    }
}
