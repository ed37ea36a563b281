using System.Net;
using LoadBalancer.Core.Model;
using LoadBalancer.TestKit;

namespace LoadBalancer.Health.Tests;

/// <summary>Keeps every report it is given.</summary>
internal sealed class RecordingSink : IHealthReportSink
{
    private readonly object _gate = new();
    private readonly List<HealthReport> _reports = [];

    public Action<HealthReport>? After { get; init; }

    public void Report(HealthReport report)
    {
        lock (_gate) _reports.Add(report);
        After?.Invoke(report);
    }

    public int Count
    {
        get
        {
            lock (_gate) return _reports.Count;
        }
    }

    public IReadOnlyList<HealthReport> Reports
    {
        get
        {
            lock (_gate) return _reports.ToArray();
        }
    }

    public IReadOnlyList<HealthReport> Of(string backend) => Reports.Where(r => r.Backend == backend).ToArray();
}

/// <summary>Answers at once from a function of the backend and its call number (0, 1, ...).</summary>
internal sealed class ScriptedProbe(Func<string, int, ProbeResult> answer) : IHealthProbe
{
    private readonly Dictionary<string, int> _calls = [];

    public Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken)
    {
        int call;
        lock (_calls)
        {
            call = _calls.GetValueOrDefault(target.Backend);
            _calls[target.Backend] = call + 1;
        }
        return Task.FromResult(answer(target.Backend, call));
    }
}

/// <summary>Never answers. With <c>honoursCancellation</c> it ends (cancelled) as soon as its token is
/// cancelled, like the real probes; without, it hangs for good, like a broken one.</summary>
internal sealed class HangingProbe(bool honoursCancellation) : IHealthProbe
{
    private int _calls;
    private int _cancelled;

    public int Calls => Volatile.Read(ref _calls);
    public int Cancelled => Volatile.Read(ref _cancelled);

    public Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken)
    {
        var never = new TaskCompletionSource<ProbeResult>();
        cancellationToken.Register(() =>
        {
            Interlocked.Increment(ref _cancelled);
            if (honoursCancellation) never.TrySetCanceled(cancellationToken);
        });
        Interlocked.Increment(ref _calls);
        return never.Task;
    }
}

/// <summary>Sends each target to the probe named after its backend.</summary>
internal sealed class RoutingProbe(IReadOnlyDictionary<string, IHealthProbe> probes) : IHealthProbe
{
    public Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken) =>
        probes[target.Backend].CheckAsync(target, cancellationToken);
}

/// <summary>Runs a <see cref="HealthChecker"/> on a fake clock and moves the clock one timer at a time.
/// Between moves it waits until the checker is quiet again: every scheduled target waiting on exactly one
/// timer (its next check, or the timeout of a probe that hangs), and the one thing the fired timer causes
/// has happened (a report, or a call to a hanging probe).</summary>
internal sealed class CheckerHarness : IAsyncDisposable
{
    public static readonly HealthCheckConfig Check = new()
    {
        Type = HealthCheckType.Http,
        Interval = TimeSpan.FromSeconds(10),
        Timeout = TimeSpan.FromSeconds(1),
        Rise = 2,
        Fall = 2,
    };

    private readonly CancellationTokenSource _stop = new();
    private readonly HangingProbe[] _hanging;
    private int _scheduled;
    private Task? _run;
    private int _probesAskedFor;

    public CheckerHarness(IReadOnlyList<HealthTarget> targets, IHealthProbe probe, RecordingSink? sink = null, params HangingProbe[] hanging)
    {
        _hanging = hanging;
        _scheduled = targets.Count(t => t.Check.Type != HealthCheckType.None);
        Sink = sink ?? new RecordingSink();
        Checker = new HealthChecker(targets, Sink, Time, _ => { Interlocked.Increment(ref _probesAskedFor); return probe; }, Log.Enqueue, new Random(20250101),
            // Down lines also in Log, so Log keeps every line in order.
            logDown: m => { LogDown.Enqueue(m); Log.Enqueue(m); });
    }

    public FakeTimeProvider Time { get; } = new();
    public RecordingSink Sink { get; }
    public HealthChecker Checker { get; }
    public System.Collections.Concurrent.ConcurrentQueue<string> Log { get; } = new();
    /// <summary>The lines said through the checker's <c>logDown</c>: a backend going down.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> LogDown { get; } = new();
    public int ProbesAskedFor => Volatile.Read(ref _probesAskedFor);

    public static HealthTarget Target(string backend, HealthCheckConfig? check = null) =>
        new("web", backend, IPAddress.Loopback, 8080, check ?? Check);

    private int Events => Sink.Count + _hanging.Sum(h => h.Calls);

    /// <summary>Starts the checker and waits until every scheduled target waits for its first check.</summary>
    public async Task StartAsync()
    {
        _run = Checker.RunAsync(_stop.Token);
        await Eventually.TrueAsync(() => Time.PendingTimers == _scheduled, $"{_scheduled} first checks to be scheduled");
    }

    /// <summary>Hands the checker new targets (a reload) and waits until exactly the scheduled ones wait on a timer.</summary>
    public async Task<HealthUpdate> UpdateAsync(IReadOnlyList<HealthTarget> targets)
    {
        var update = Checker.Update(targets);
        _scheduled = targets.Count(t => t.Check.Type != HealthCheckType.None);
        await Eventually.TrueAsync(() => Time.PendingTimers == _scheduled, $"{_scheduled} targets scheduled after the update");
        return update;
    }

    /// <summary>Fires the next timer and waits for the checker to be quiet again; returns the new time.</summary>
    public async Task<DateTimeOffset> StepAsync()
    {
        var before = Events;
        var due = Time.FireNext() ?? throw new InvalidOperationException("no timer armed: the checker is not waiting for anything");
        await Eventually.TrueAsync(() => Events == before + 1 && Time.PendingTimers == _scheduled,
            $"the timer due at +{(due - Time.Start).TotalSeconds} s to have its effect");
        return due;
    }

    /// <summary>Steps until <paramref name="done"/> holds; fails after <paramref name="maxSteps"/>.</summary>
    public async Task StepUntilAsync(Func<bool> done, int maxSteps = 1000)
    {
        for (var i = 0; !done(); i++)
        {
            if (i == maxSteps) throw new InvalidOperationException($"not done after {maxSteps} steps");
            await StepAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_run is not null) await _run.WaitAsync(Eventually.DefaultBound);
        _stop.Dispose();
    }
}
