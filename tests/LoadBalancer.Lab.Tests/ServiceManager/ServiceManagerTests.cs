using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.ServiceManager;

/// <summary>A DR lab (two nginx servers) shared by the tests of <c>lb run</c> under a service manager.</summary>
public sealed class ServiceManagerLab : IDisposable
{
    public NamespaceLab Lab { get; } = NamespaceLab.Up(2);
    public string Socket => Path.Combine(Lab.Dir, "lb.sock");

    /// <summary><c>lb ARGS</c> in the balancer's namespace.</summary>
    public CommandResult Lb(string args) =>
        Shell.InNamespace(Lab.BalancerNs, ["bash", "-c", $"dotnet {Shell.Quote(LabEnvironment.LbDll)} {args}"], TimeSpan.FromSeconds(30));

    public void Server(int i, string action)
    {
        var r = NamespaceLab.Topology($"lab_set_env {Lab.Prefix} {Lab.ServerNames.Length}; lab_server_{action} {i}");
        if (r.ExitCode != 0) throw new InvalidOperationException($"lab_server_{action} {i}: {r.Output}");
    }

    public void Dispose() => Lab.Dispose();
}

/// <summary>The service manager's side of <c>lb run</c>, observed as systemd would: the notify protocol on a datagram
/// socket the test owns (NOTIFY_SOCKET), and the log lines' priorities when stderr is the journal (JOURNAL_STREAM).</summary>
public sealed class ServiceManagerTests(ServiceManagerLab fixture) : IClassFixture<ServiceManagerLab>
{
    private readonly NamespaceLab _lab = fixture.Lab;

    /// <summary>The datagrams that arrived on the test's NOTIFY_SOCKET, in order, each waited for with a bound.</summary>
    private sealed class NotifySocket : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 500 };
        private readonly List<string> _seen = new();

        public NotifySocket(string path)
        {
            File.Delete(path);
            Path = path;
            _socket.Bind(new UnixDomainSocketEndPoint(path));
        }

        public string Path { get; }
        public IReadOnlyList<string> Seen => _seen;

        /// <summary>Receives until a message matches; fails after <paramref name="limit"/>.</summary>
        public string Until(Func<string, bool> match, TimeSpan limit, string what)
        {
            var deadline = DateTime.UtcNow + limit;
            while (DateTime.UtcNow < deadline)
                if (TryReceive() is { } message && match(message)) return message;
            throw new TimeoutException($"no {what} within {limit.TotalSeconds} s; received: [{string.Join(" | ", _seen)}]");
        }

        /// <summary>Takes what is already queued (the sender has exited: nothing more can come).</summary>
        public void Drain()
        {
            while (_socket.Available > 0) TryReceive();
        }

        private string? TryReceive()
        {
            var buffer = new byte[4096];
            try
            {
                var message = Encoding.UTF8.GetString(buffer, 0, _socket.Receive(buffer));
                _seen.Add(message);
                return message;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                return null;
            }
        }

        public void Dispose()
        {
            _socket.Dispose();
            File.Delete(Path);
        }
    }

    private static long MonotonicMicroseconds() => Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1_000_000);

    private static bool IsWatchdog(string m) => m == "WATCHDOG=1";

    [LabFact]
    public void Notify_ReadyThenFirstConnection_ReloadingReady_Watchdog_StoppingBeforeExit()
    {
        using var notify = new NotifySocket(Path.Combine(_lab.Dir, "notify.sock"));
        var config = _lab.WriteDrConfig("notify.yaml");
        var launch = new EngineLaunch
        {
            Environment = new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path, ["WATCHDOG_USEC"] = "500000" },
            WaitReady = false,
        };
        using var engine = EngineProcess.StartIn(_lab, _lab.BalancerNs, config, fixture.Socket, launch: launch);

        var ready = notify.Until(m => m.StartsWith("READY=1\n", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "READY=1");
        Assert.Equal("READY=1\nSTATUS=serving 3 services", ready);
        // Nothing waited for but READY=1: the very first connection goes through, and its SYN was not dropped for a
        // backend MAC not yet resolved.
        var first = Assert.Single(_lab.Connect(1));
        Assert.Matches("^rs[12]$", first);
        using (var status = engine.Status())
            Assert.Equal(0, status.RootElement.GetProperty("drops").GetProperty("backend_mac_unresolved").GetInt64());

        // WATCHDOG_USEC=500000: a ping every 250 ms while the loops move.
        var watchdogStart = notify.Seen.Count;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 4; i++) notify.Until(IsWatchdog, TimeSpan.FromSeconds(5), $"WATCHDOG=1 number {i + 1}");
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5));

        // lb reload: RELOADING=1 (with CLOCK_MONOTONIC in µs, taken during the reload), then READY=1.
        File.WriteAllText(config, File.ReadAllText(config).Replace("address: 10.99.1.12\n", "address: 10.99.1.12\n        weight: 50\n", StringComparison.Ordinal));
        var before = MonotonicMicroseconds();
        var reload = fixture.Lb($"reload --config {Shell.Quote(config)} --socket {Shell.Quote(fixture.Socket)}");
        var after = MonotonicMicroseconds();
        Assert.True(reload.ExitCode == 0, reload.Output);
        var from = notify.Seen.Count;
        notify.Until(m => m.StartsWith("READY=1\n", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "READY=1 after the reload");
        var around = notify.Seen.Skip(from).Where(m => !IsWatchdog(m)).ToArray();
        Assert.Equal(2, around.Length);
        var reloading = Regex.Match(around[0], @"^RELOADING=1\nMONOTONIC_USEC=(\d+)\nSTATUS=reloading$");
        Assert.True(reloading.Success, around[0]);
        Assert.InRange(long.Parse(reloading.Groups[1].Value, CultureInfo.InvariantCulture), before, after);
        Assert.Equal("READY=1\nSTATUS=serving 3 services", around[1]);

        // SIGTERM: STOPPING=1, sent before the process ended (a datagram queued here was sent by a live process), then
        // nothing more; exit 0.
        Assert.Equal(0, engine.Stop());
        notify.Until(m => m.StartsWith("STOPPING=1\n", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "STOPPING=1");
        notify.Drain();
        Assert.StartsWith("STOPPING=1\n", notify.Seen[^1], StringComparison.Ordinal);
        Assert.Single(notify.Seen, m => m.StartsWith("STOPPING=1", StringComparison.Ordinal));
        Assert.True(notify.Seen.Skip(watchdogStart).Count(IsWatchdog) >= 4);
        // Without JOURNAL_STREAM the log lines are as they always were.
        Assert.DoesNotContain(engine.Log.Split('\n'), l => l.StartsWith('<'));
        Assert.Contains("watchdog: WATCHDOG=1 every 250 ms", engine.Log);
    }

    [LabFact]
    public void Journal_StderrIsTheJournal_EveryLineStartsWithItsPriority()
    {
        var config = Path.Combine(_lab.Dir, "journal.yaml");
        File.WriteAllText(config, $$"""
            hash_seed: 0x5eed
            workers: 1
            control_socket: {{fixture.Socket}}
            services:
              - name: web
                vip: {{_lab.Vip}}
                port: 80
                protocol: tcp
                mode: dr
                interface: {{_lab.BalancerIf}}
                health: {type: tcp, interval: 300ms, timeout: 250ms, rise: 1, fall: 1}
                backends:
                  - {name: rs1, address: 10.99.1.11}
                  - {name: rs2, address: 10.99.1.12}

            """);
        // A key only a restart can change: lb check passes it, the engine refuses it (a warning).
        var restartOnly = Path.Combine(_lab.Dir, "journal-workers.yaml");
        File.WriteAllText(restartOnly, File.ReadAllText(config).Replace("workers: 1", "workers: 2", StringComparison.Ordinal));
        using var engine = EngineProcess.StartIn(_lab, _lab.BalancerNs, config, fixture.Socket, launch: new EngineLaunch { JournalStream = true });
        try
        {
            Retry.Until(() => engine.Log.Contains("rs2 healthy", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "rs2 healthy");
            fixture.Server(2, "stop");
            Retry.Until(() => engine.Log.Contains("rs2 unhealthy", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "rs2 unhealthy");
            var refused = fixture.Lb($"reload --config {Shell.Quote(restartOnly)} --socket {Shell.Quote(fixture.Socket)}");
            Assert.True(refused.ExitCode == 2, refused.Output);
        }
        finally
        {
            fixture.Server(2, "start");
        }
        Assert.Equal(0, engine.Stop());

        var log = engine.Log;
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 0 && log.Contains("reload refused", StringComparison.Ordinal), log);
        Assert.All(lines, l => Assert.Matches("^<[346]>", l));
        Assert.Matches(@"^<6>\S+Z info ready: control socket ", Assert.Single(lines, l => l.Contains("ready: control socket", StringComparison.Ordinal)));
        // A backend going down is a warning to the journal; its coming up is information.
        Assert.Matches(@"^<4>\S+Z info health web: rs2 unhealthy: ", Assert.Single(lines, l => l.Contains("info health web: rs2 unhealthy", StringComparison.Ordinal)));
        Assert.Matches(@"^<6>\S+Z info health web: rs2 healthy: ", lines.First(l => l.Contains("rs2 healthy", StringComparison.Ordinal)));
        Assert.Matches(@"^<4>\S+Z warning reload refused: ", lines.First(l => l.Contains("reload refused", StringComparison.Ordinal)));
    }
}
