using System.Net;
using LoadBalancer.TestKit;
using LoadBalancer.Core.Model;
using static LoadBalancer.Health.Tests.TestServers;

namespace LoadBalancer.Health.Tests.Probes;

public class TcpProbeTests
{
    private static readonly HealthCheckConfig Check = new() { Type = HealthCheckType.Tcp, Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task CheckAsync_ListeningPort_OkAndConnects()
    {
        await using var server = new SilentTcpServer();

        var result = await HealthProbes.For(HealthCheckType.Tcp).CheckAsync(Target(server.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "tcp connect ok"), result);
        await Eventually.TrueAsync(() => server.Accepted == 1, "the server to accept the probe");
    }

    [Fact]
    public async Task CheckAsync_ClosedPort_FailsRefused()
    {
        using var closed = ClosedTcpPort();

        var result = await HealthProbes.For(HealthCheckType.Tcp).CheckAsync(Target(closed.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "tcp connect refused"), result);
    }

    [Fact]
    public async Task CheckAsync_CallerCancelled_Throws()
    {
        await using var server = new SilentTcpServer();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            HealthProbes.For(HealthCheckType.Tcp).CheckAsync(Target(server.Port, Check), new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task CheckAsync_Ipv6ListeningPort_OkAndConnects()
    {
        await using var server = new SilentTcpServer(IPAddress.IPv6Loopback);

        var result = await HealthProbes.For(HealthCheckType.Tcp).CheckAsync(Target(server.Port, Check, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "tcp connect ok"), result);
        await Eventually.TrueAsync(() => server.Accepted == 1, "the server to accept the probe");
    }

    [Fact]
    public async Task CheckAsync_Ipv6ClosedPort_FailsRefused()
    {
        using var closed = ClosedTcpPort(IPAddress.IPv6Loopback);

        var result = await HealthProbes.For(HealthCheckType.Tcp).CheckAsync(Target(closed.Port, Check, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "tcp connect refused"), result);
    }
}
