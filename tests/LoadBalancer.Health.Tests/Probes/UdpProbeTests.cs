using System.Net;
using LoadBalancer.Core.Model;
using static LoadBalancer.Health.Tests.TestServers;

namespace LoadBalancer.Health.Tests.Probes;

public class UdpProbeTests
{
    private static readonly HealthCheckConfig Check = new() { Type = HealthCheckType.Udp, Payload = "ping", Timeout = TimeSpan.FromSeconds(10) };
    private static readonly IHealthProbe Probe = HealthProbes.For(HealthCheckType.Udp);

    [Fact]
    public async Task CheckAsync_AnyReplyWhenNoneExpected_Ok()
    {
        await using var server = new UdpTestServer(_ => "pong");

        var result = await Probe.CheckAsync(Target(server.Port, Check), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "udp reply 'pong'"), result);
        Assert.Equal("ping", Assert.Single(server.Received));
    }

    [Fact]
    public async Task CheckAsync_ReplyContainsExpected_Ok()
    {
        await using var server = new UdpTestServer(request => $"{request}: status=up");

        var result = await Probe.CheckAsync(Target(server.Port, Check with { Reply = "status=up" }), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "udp reply 'ping: status=up'"), result);
    }

    [Fact]
    public async Task CheckAsync_ReplyLacksExpected_Fails()
    {
        await using var server = new UdpTestServer(_ => "status=down\n");

        var result = await Probe.CheckAsync(Target(server.Port, Check with { Reply = "status=up" }), CancellationToken.None);

        Assert.Equal(new ProbeResult(false, "udp unexpected reply 'status=down.'"), result);
    }

    [Fact]
    public async Task CheckAsync_ClosedPort_FailsRefused()
    {
        using var closed = ClosedUdpPort();
        // Probed until the kernel's rate-limited port unreachable comes (see ProbeClosedUdpPortAsync).
        var quick = Check with { Timeout = TimeSpan.FromMilliseconds(500) };

        var result = await ProbeClosedUdpPortAsync(Probe, Target(closed.Port, quick));

        Assert.Equal(new ProbeResult(false, "udp refused"), result);
    }

    [Fact]
    public async Task CheckAsync_ServerNeverAnswers_FailsWithTimeout()
    {
        await using var server = new UdpTestServer(_ => null);
        var check = Check with { Timeout = TimeSpan.FromMilliseconds(300) };

        var result = await CheckWithinTimeoutAsync(Probe, server.Port, check);

        Assert.Equal(new ProbeResult(false, "timeout after 300 ms"), result);
        Assert.Equal("ping", Assert.Single(server.Received));
    }

    [Fact]
    public async Task CheckAsync_Ipv6ReplyContainsExpected_Ok()
    {
        await using var server = new UdpTestServer(request => $"{request}: status=up", IPAddress.IPv6Loopback);

        var result = await Probe.CheckAsync(Target(server.Port, Check with { Reply = "status=up" }, address: IPAddress.IPv6Loopback), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "udp reply 'ping: status=up'"), result);
        Assert.Equal("ping", Assert.Single(server.Received));
    }

    [Fact]
    public async Task CheckAsync_Ipv6ClosedPort_FailsRefusedByIcmpv6()
    {
        using var closed = ClosedUdpPort(IPAddress.IPv6Loopback);
        // ICMPv6 port unreachable is rate-limited as ICMP is (see ProbeClosedUdpPortAsync).
        var quick = Check with { Timeout = TimeSpan.FromMilliseconds(500) };

        var result = await ProbeClosedUdpPortAsync(Probe, Target(closed.Port, quick, address: IPAddress.IPv6Loopback));

        Assert.Equal(new ProbeResult(false, "udp refused"), result);
    }

    [Fact]
    public async Task CheckAsync_Ipv6ServerNeverAnswers_FailsWithTimeout()
    {
        await using var server = new UdpTestServer(_ => null, IPAddress.IPv6Loopback);
        var check = Check with { Timeout = TimeSpan.FromMilliseconds(300) };

        var result = await CheckWithinTimeoutAsync(Probe, server.Port, check, IPAddress.IPv6Loopback);

        Assert.Equal(new ProbeResult(false, "timeout after 300 ms"), result);
        Assert.Equal("ping", Assert.Single(server.Received));
    }
}
