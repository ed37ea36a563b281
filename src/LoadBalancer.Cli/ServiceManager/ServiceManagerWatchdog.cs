using System.Globalization;
using LoadBalancer.Hosting;

namespace LoadBalancer.Cli.ServiceManager;

/// <summary>The service manager's watchdog (<c>WatchdogSec=</c>, sd_watchdog_enabled(3)): a thread sends
/// <c>WATCHDOG=1</c> every half <c>WATCHDOG_USEC</c>, but only while every loop of the data path (each worker, each
/// interface's ARP) has gone round within <see cref="StallAfter"/>. A loop that stands still (stuck, or its thread
/// gone) stops the pings, which is logged once, and the service manager restarts the engine when its timeout passes
/// without one; should the loop move again first, the pings resume. The loops' counters move at least once per poll
/// timeout (100 ms) with no traffic, so standing still for a second is not idleness.</summary>
internal sealed class ServiceManagerWatchdog : IDisposable
{
    public const string TimeoutVariable = "WATCHDOG_USEC";
    public const string PidVariable = "WATCHDOG_PID";
    /// <summary>The least time a loop may stand still before it counts as stalled: ten poll timeouts, more than a
    /// garbage collection or a busy shared core takes from it.</summary>
    public static readonly TimeSpan MinimumStall = TimeSpan.FromSeconds(1);

    private readonly ServiceManagerNotifier _notifier;
    private readonly IReadOnlyList<EngineLoop> _loops;
    private readonly EngineLog _log;
    private readonly TimeProvider _time;
    private readonly long[] _rounds;
    private readonly long[] _movedAt;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private bool _stalled;

    public ServiceManagerWatchdog(ServiceManagerNotifier notifier, TimeSpan timeout, IReadOnlyList<EngineLoop> loops, EngineLog log, TimeProvider time)
    {
        _notifier = notifier;
        _loops = loops;
        _log = log;
        _time = time;
        Interval = timeout / 2;
        StallAfter = Interval > MinimumStall ? Interval : MinimumStall;
        _rounds = loops.Select(l => l.Rounds()).ToArray();
        var now = time.GetTimestamp();
        _movedAt = loops.Select(_ => now).ToArray();
    }

    /// <summary>The watchdog timeout the service manager set for this process: <c>WATCHDOG_USEC</c> when it is a
    /// positive number and <c>WATCHDOG_PID</c> is unset or <paramref name="pid"/> (the variables may have been inherited
    /// from a parent that was meant); else null, no watchdog.</summary>
    public static TimeSpan? Timeout(Func<string, string?> environment, int pid)
    {
        if (!long.TryParse(environment(TimeoutVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || usec <= 0) return null;
        if (environment(PidVariable) is { Length: > 0 } owner
            && (!int.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out var ownerPid) || ownerPid != pid)) return null;
        return TimeSpan.FromMicroseconds(usec);
    }

    /// <summary>How often <see cref="Tick"/> runs: half the timeout, as sd_watchdog_enabled(3) advises.</summary>
    public TimeSpan Interval { get; }

    /// <summary>How long a loop may stand still and still count as alive.</summary>
    public TimeSpan StallAfter { get; }

    /// <summary>One check: WATCHDOG=1 when every loop moved within <see cref="StallAfter"/>. Returns whether it was sent.</summary>
    public bool Tick()
    {
        var now = _time.GetTimestamp();
        List<string>? stalled = null;
        for (var i = 0; i < _loops.Count; i++)
        {
            var rounds = _loops[i].Rounds();
            if (rounds != _rounds[i])
            {
                _rounds[i] = rounds;
                _movedAt[i] = now;
            }
            else if (_time.GetElapsedTime(_movedAt[i], now) > StallAfter) (stalled ??= []).Add(_loops[i].Name);
        }
        if (stalled is not null)
        {
            if (!_stalled)
            {
                _stalled = true;
                var names = string.Join(", ", stalled);
                _log.Error($"watchdog: {names} made no progress for {StallAfter.TotalSeconds:0.###} s: WATCHDOG=1 is no longer sent, " +
                           "so the service manager restarts the engine unless it moves again");
                _notifier.Status($"stalled: {names}");
            }
            return false;
        }
        if (_stalled)
        {
            _stalled = false;
            _log.Warn("watchdog: every loop moves again; WATCHDOG=1 resumed");
        }
        _notifier.Watchdog();
        return true;
    }

    /// <summary>Pings at once, then every <see cref="Interval"/>, on a thread of its own, until disposed.</summary>
    public void Start()
    {
        _thread = new Thread(() =>
        {
            do Tick();
            while (!_stop.Token.WaitHandle.WaitOne(Interval));
        })
        { IsBackground = true, Name = "lb-watchdog" };
        _thread.Start();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
