using System.Net.Sockets;
using System.Text;
using LoadBalancer.Cli.ServiceManager;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.ServiceManager;

/// <summary>WATCHDOG=1 only while every data-path loop moves, on a fake clock with loops whose counters the test moves.</summary>
public sealed class ServiceManagerWatchdogTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("lb-watchdog-");
    private readonly StringWriter _logText = new();
    private readonly FakeTimeProvider _time = new();
    private readonly long[] _rounds = new long[2];
    private readonly Socket _receiver;
    private readonly ServiceManagerNotifier _notifier;
    private readonly ServiceManagerWatchdog _watchdog;

    public ServiceManagerWatchdogTests()
    {
        var path = Path.Combine(_dir.FullName, "notify.sock");
        _receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 5000 };
        _receiver.Bind(new UnixDomainSocketEndPoint(path));
        var log = new EngineLog(_logText);
        _notifier = new ServiceManagerNotifier(path, log, () => 0);
        EngineLoop[] loops = [new("lb-worker-eth0-0", () => Volatile.Read(ref _rounds[0])), new("lb-arp-eth0", () => Volatile.Read(ref _rounds[1]))];
        _watchdog = new ServiceManagerWatchdog(_notifier, TimeSpan.FromMilliseconds(500), loops, log, _time);
    }

    public void Dispose()
    {
        _watchdog.Dispose();
        _notifier.Dispose();
        _receiver.Dispose();
        _dir.Delete(recursive: true);
    }

    private string Next()
    {
        var buffer = new byte[512];
        return Encoding.UTF8.GetString(buffer, 0, _receiver.Receive(buffer));
    }

    private string[] LogLines => _logText.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private void Move(params int[] loops)
    {
        foreach (var i in loops) _rounds[i]++;
    }

    [Fact]
    public void Timing_HalfTheTimeout_StallAtLeastASecond()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(250), _watchdog.Interval);
        Assert.Equal(TimeSpan.FromSeconds(1), _watchdog.StallAfter);
        using var slow = new ServiceManagerWatchdog(_notifier, TimeSpan.FromSeconds(10), [], new EngineLog(TextWriter.Null), _time);
        Assert.Equal(TimeSpan.FromSeconds(5), slow.StallAfter);
    }

    [Fact]
    public void Tick_EveryLoopMoving_SendsWatchdog()
    {
        Assert.True(_watchdog.Tick());
        for (var i = 0; i < 8; i++)
        {
            _time.Advance(_watchdog.Interval);
            Move(0, 1);
            Assert.True(_watchdog.Tick());
        }

        for (var i = 0; i < 9; i++) Assert.Equal("WATCHDOG=1", Next());
        Assert.Empty(LogLines);
    }

    [Fact]
    public void Tick_AWorkerStalls_PingsStopLoggedOnce_AndResumeWhenItMoves()
    {
        Assert.True(_watchdog.Tick());
        // The worker (loop 0) stops moving; the ARP loop goes on. Within StallAfter it still counts as alive.
        for (var i = 0; i < 4; i++)
        {
            _time.Advance(_watchdog.Interval);
            Move(1);
            Assert.True(_watchdog.Tick());
        }
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Move(1);
        Assert.False(_watchdog.Tick());
        for (var i = 0; i < 4; i++)
        {
            _time.Advance(_watchdog.Interval);
            Move(1);
            Assert.False(_watchdog.Tick());
        }

        var error = Assert.Single(LogLines);
        Assert.Contains("error watchdog: lb-worker-eth0-0 made no progress for 1 s: WATCHDOG=1 is no longer sent", error);
        Assert.DoesNotContain("lb-arp-eth0", error);
        for (var i = 0; i < 5; i++) Assert.Equal("WATCHDOG=1", Next());
        Assert.Equal("STATUS=stalled: lb-worker-eth0-0", Next());

        _time.Advance(_watchdog.Interval);
        Move(0, 1);
        Assert.True(_watchdog.Tick());
        Assert.Equal("WATCHDOG=1", Next());
        Assert.Contains("warning watchdog: every loop moves again; WATCHDOG=1 resumed", LogLines[^1]);
    }

    [Fact]
    public void Tick_NoLoopEverMoves_StopsAfterStallAfter()
    {
        Assert.True(_watchdog.Tick());
        _time.Advance(_watchdog.StallAfter);
        Assert.True(_watchdog.Tick());
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.False(_watchdog.Tick());
        Assert.Contains("lb-worker-eth0-0, lb-arp-eth0 made no progress", Assert.Single(LogLines));
    }

    [Theory]
    [InlineData("500000", null, 500_000L)]
    [InlineData("500000", "", 500_000L)]
    [InlineData("30000000", "4242", 30_000_000L)]
    [InlineData("500000", "4243", null)]
    [InlineData("500000", "x", null)]
    [InlineData(null, null, null)]
    [InlineData("", null, null)]
    [InlineData("0", null, null)]
    [InlineData("-5", null, null)]
    [InlineData("5s", null, null)]
    public void Timeout_FromTheEnvironment_OnlyWhenSetAndOurs(string? usec, string? pid, long? expected)
    {
        var environment = new Dictionary<string, string?> { ["WATCHDOG_USEC"] = usec, ["WATCHDOG_PID"] = pid };

        var timeout = ServiceManagerWatchdog.Timeout(name => environment.GetValueOrDefault(name), pid: 4242);

        Assert.Equal(expected is { } e ? TimeSpan.FromMicroseconds(e) : null, timeout);
    }
}
