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
        // "Refused" is the kernel's ICMP port unreachable, and the kernel rate-limits those per namespace even on
        // loopback (icmp_msgs_per_sec/icmp_msgs_burst: a burst of about 50, then about one per millisecond;
        // IcmpOutRateLimitGlobal in /proc/net/snmp counts what it suppressed). Everything else in the root namespace
        // spends the same budget, so a single probe can meet a silent port and time out (seen once in CI). Probes
        // 100 ms apart until one is refused: any other answer than refused or a timeout still fails the test.
        var quick = Check with { Timeout = TimeSpan.FromMilliseconds(500) };
        ProbeResult result = new(false, "not probed");
        for (var attempt = 0; attempt < 10; attempt++)
        {
            result = await Probe.CheckAsync(Target(closed.Port, quick), CancellationToken.None);
            if (result.Detail != "timeout after 500 ms") break;
            await Task.Delay(100);
        }

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
}
