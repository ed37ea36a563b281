using System.Net;
using LoadBalancer.TestKit;
using LoadBalancer.Core.Model;
using LoadBalancer.Health.Probes;
using static LoadBalancer.Health.Tests.TestServers;

namespace LoadBalancer.Health.Tests.Probes;

public class PeerEngineProbeTests
{
    private static readonly HealthCheckConfig Check = new() { Type = HealthCheckType.Tcp, Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task CheckAsync_EngineListening_RunsTheServiceCheck()
    {
        await using var engine = new SilentTcpServer();
        await using var service = new SilentTcpServer();
        var probe = new PeerEngineProbe(engine.Port, HealthProbes.For(HealthCheckType.Tcp));

        var result = await probe.CheckAsync(Target(service.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "tcp connect ok"), result);
        await Eventually.TrueAsync(() => engine.Accepted == 1 && service.Accepted == 1, "both ports to be connected to");
    }

    [Fact]
    public async Task CheckAsync_EngineGone_FailsWithoutTheServiceCheck_EvenThoughTheApplicationAnswers()
    {
        using var closed = ClosedTcpPort();
        var engineGone = closed.Port;
        await using var service = new SilentTcpServer();
        var probe = new PeerEngineProbe(engineGone, HealthProbes.For(HealthCheckType.Tcp));

        var result = await probe.CheckAsync(Target(service.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, $"engine heartbeat (tcp {engineGone}) refused"), result);
        Assert.Equal(0, service.Accepted);
    }

    [Fact]
    public async Task CheckAsync_EngineUp_ServiceDown_ReportsTheServiceFailure()
    {
        await using var engine = new SilentTcpServer();
        var probe = new PeerEngineProbe(engine.Port, HealthProbes.For(HealthCheckType.Tcp));

        using var closed = ClosedTcpPort();

        var result = await probe.CheckAsync(Target(closed.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "tcp connect refused"), result);
    }

    [Fact]
    public async Task CheckAsync_Ipv6EngineListening_RunsTheServiceCheck()
    {
        await using var engine = new SilentTcpServer(IPAddress.IPv6Loopback);
        await using var service = new SilentTcpServer(IPAddress.IPv6Loopback);
        var probe = new PeerEngineProbe(engine.Port, HealthProbes.For(HealthCheckType.Tcp));

        var result = await probe.CheckAsync(Target(service.Port, Check, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "tcp connect ok"), result);
        await Eventually.TrueAsync(() => engine.Accepted == 1 && service.Accepted == 1, "both ports to be connected to");
    }
}
