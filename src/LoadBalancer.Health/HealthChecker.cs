using LoadBalancer.Core.Model;
using LoadBalancer.Health.Probes;

namespace LoadBalancer.Health;

/// <summary>The scheduler: one loop per target, each probing on its own clock so a slow or hanging
/// backend never holds up another's checks. A loop waits a random part of its interval before its first
/// check (so a restart does not fire every probe at once), then checks every interval ±10 %, measured
/// from the start of one check to the start of the next. Each result goes through the target's
/// <see cref="HealthDampener"/> and is reported to the sink; each health change is also logged once.
///
/// Time comes from the injected <see cref="TimeProvider"/> (delays, the timeout bound, report
/// timestamps), so tests drive it with a fake clock. Targets of type <c>none</c> are never probed:
/// they are reported healthy once, at the start.
///
/// A reload hands the checker its new targets (<see cref="Update"/>): a target whose server and check are
/// unchanged keeps its loop, its schedule and its rise/fall progress; one whose check changed restarts with the
/// health it had; a new one starts from its check's initial health; a removed one stops and never reports again.</summary>
public sealed class HealthChecker
{
    private const double Jitter = 0.1;

    // Replaced whole by Update (under _updateGate), read without it by Current.
    private volatile Target[] _targets;
    private readonly IHealthReportSink _sink;
    private readonly TimeProvider _time;
    private readonly Func<HealthCheckType, IHealthProbe> _probes;
    private readonly Action<string>? _log;
    private readonly Action<string>? _logDown;
    private readonly Random _random;
    private readonly object _randomGate = new();
    private readonly object _updateGate = new();
    private readonly List<Task> _loops = new();
    private CancellationToken _stop;
    private bool _running;

    /// <param name="log">Where each health change (and a failing sink) is said.</param>
    /// <param name="logDown">Where the changes that take a backend down are said instead (turned unhealthy,
    /// soft-stopped); <paramref name="log"/> when null.</param>
    public HealthChecker(
        IEnumerable<HealthTarget> targets,
        IHealthReportSink sink,
        TimeProvider time,
        Func<HealthCheckType, IHealthProbe>? probes = null,
        Action<string>? log = null,
        Action<string>? logDown = null)
        : this(targets, sink, time, probes, log, new Random(), logDown)
    {
    }

    /// <summary>With a given <paramref name="random"/> (seeded in tests, for repeatable schedules).</summary>
    internal HealthChecker(
        IEnumerable<HealthTarget> targets,
        IHealthReportSink sink,
        TimeProvider time,
        Func<HealthCheckType, IHealthProbe>? probes,
        Action<string>? log,
        Random random,
        Action<string>? logDown = null)
    {
        ArgumentNullException.ThrowIfNull(targets);
        _sink = sink ?? throw new ArgumentNullException(nameof(sink));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _log = log;
        _logDown = logDown ?? log;
        _random = random;
        var now = time.GetUtcNow();
        _probes = probes ?? HealthProbes.For;
        // Probes are picked here, not when the loops start, so an unsupported type fails the construction.
        _targets = targets.Select(t => new Target(t, now, _probes, initial: null)).ToArray();
    }

    /// <summary>The targets now being checked, in the order last given.</summary>
    public IReadOnlyList<HealthTarget> Targets => _targets.Select(t => t.Config).ToArray();

    /// <summary>The latest report of each target, in the order the targets were given. Before a target's
    /// first check its entry says so: its initial health, <c>Ok</c> false, detail <c>not checked yet</c>.</summary>
    public IReadOnlyList<HealthReport> Current
    {
        get
        {
            var reports = new HealthReport[_targets.Length];
            for (var i = 0; i < reports.Length; i++)
                reports[i] = _targets[i].Latest;
            return reports;
        }
    }

    /// <summary>Checks every target until <paramref name="stop"/> is cancelled, then returns. A failing,
    /// throwing or hanging probe is one failed check of its target; it never ends the run.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        lock (_updateGate)
        {
            if (_running) throw new InvalidOperationException("the health checker is already running");
            _running = true;
            _stop = stop;
            foreach (var target in _targets) Start(target);
        }
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (stop.Register(() => stopped.TrySetResult()))
            await stopped.Task.ConfigureAwait(false);
        Task[] loops;
        lock (_updateGate) loops = _loops.ToArray();
        await Task.WhenAll(loops).ConfigureAwait(false);
    }

    /// <summary>Moves the checker to <paramref name="targets"/> (a reload), touching only what changed: a target
    /// is kept when its service, backend, address, port, engine port and check settings are all the same
    /// (<see cref="HealthCheckConfig.SameSettings"/>); one with the same service, backend, address and port but
    /// another check restarts from the health it had; the rest are new. Targets not kept stop, and a result of
    /// theirs still in flight is never reported. Returns what it did, for the log.</summary>
    /// <exception cref="NotSupportedException">A new target's check type has no probe; nothing changed.</exception>
    public HealthUpdate Update(IEnumerable<HealthTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        lock (_updateGate)
        {
            var current = _targets;
            var now = _time.GetUtcNow();
            var next = new List<Target>();
            var kept = new HashSet<Target>();
            int restarted = 0, added = 0;
            foreach (var t in targets)
            {
                var same = Array.Find(current, c => !kept.Contains(c) && SameServer(c.Config, t));
                if (same is not null && same.Config.Check.SameSettings(t.Check) && same.Config.EnginePort == t.EnginePort)
                {
                    kept.Add(same);
                    next.Add(same);
                    continue;
                }
                // Another check of the same server: its health is still what was last seen, until the new check says otherwise.
                next.Add(new Target(t, now, _probes, initial: same?.Dampener.Health));
                if (same is null) added++;
                else restarted++;
            }
            var retired = current.Where(c => !kept.Contains(c)).ToArray();
            foreach (var r in retired) r.Retire();
            _targets = next.ToArray();
            if (_running)
                foreach (var t in next)
                    if (!kept.Contains(t)) Start(t);
            return new HealthUpdate(kept.Count, restarted, added, retired.Length - restarted);
        }
    }

    private static bool SameServer(HealthTarget a, HealthTarget b) =>
        a.Service == b.Service && a.Backend == b.Backend && a.Address.Equals(b.Address) && a.Port == b.Port;

    /// <summary>Starts a target's loop (under the update gate, while running).</summary>
    private void Start(Target target)
    {
        if (target.Config.Check.Type == HealthCheckType.None)
        {
            Publish(target, new ProbeResult(true, NoneProbe.Detail));
            return;
        }
        target.Link(_stop);
        _loops.RemoveAll(l => l.IsCompleted);
        _loops.Add(LoopAsync(target, target.Token));
    }

    private async Task LoopAsync(Target target, CancellationToken stop)
    {
        var check = target.Config.Check;
        try
        {
            await Task.Delay(Scale(check.Interval, NextDouble()), _time, stop).ConfigureAwait(false);
            while (true)
            {
                var started = _time.GetTimestamp();
                var result = await ProbeOnceAsync(target, stop).ConfigureAwait(false);
                Publish(target, result);
                var wait = Scale(check.Interval, 1 - Jitter + 2 * Jitter * NextDouble()) - _time.GetElapsedTime(started);
                await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _time, stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Runs one probe, bounded by the check's timeout on the injected clock whatever the probe
    /// does: it is started on the thread pool (so one that blocks before returning its task blocks only
    /// itself) and abandoned, after its token is cancelled, once the timeout passes.</summary>
    private async Task<ProbeResult> ProbeOnceAsync(Target target, CancellationToken stop)
    {
        var timeout = target.Config.Check.Timeout;
        // A probe abandoned at an earlier timeout that still has not finished ignores cancellation: do
        // not pile another one on top of it (each may hold a socket or a process), fail this check.
        if (target.Abandoned is { IsCompleted: false }) return new ProbeResult(false, "previous probe still running");
        target.Abandoned = null;

        var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var config = target.Config;
        var probe = target.Probe;
        var task = Task.Run(() => probe!.CheckAsync(config, cancel.Token), CancellationToken.None);
        if (!task.IsCompleted)
        {
            // Task.Delay on the injected clock rather than WaitAsync(timeout, time): cancelling the delay
            // disposes its timer before this method returns, so a fake clock sees exactly one timer per
            // waiting loop.
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var expired = Task.Delay(timeout, _time, bound.Token);
            await Task.WhenAny(task, expired).ConfigureAwait(false);
            bound.Cancel();
            if (!task.IsCompleted)
            {
                // Timed out (or stopping): tell the probe, and let it finish in the background. Its
                // exception, if any, is observed and its token source disposed when it does.
                cancel.Cancel();
                _ = task.ContinueWith(static (t, state) => { _ = t.Exception; ((IDisposable)state!).Dispose(); },
                    cancel, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                stop.ThrowIfCancellationRequested();
                target.Abandoned = task;
                return ProbeTimeout.TimedOut(timeout);
            }
        }
        cancel.Dispose();
        try
        {
            return await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            return new ProbeResult(false, $"probe error: {e.GetType().Name}: {ProbeText.Quote(e.Message, 80)}");
        }
    }

    private void Publish(Target target, ProbeResult result)
    {
        // A reload removed or replaced it while its probe ran: its word is no longer the backend's.
        if (target.Retired) return;
        var config = target.Config;
        var dampener = target.Dampener;
        bool changed;
        int consecutive, needed;
        if (config.Check.Type == HealthCheckType.None)
        {
            // No checks, no counting: the backend is healthy by configuration.
            changed = dampener.Health != BackendHealth.Healthy;
            consecutive = needed = 0;
        }
        else
        {
            changed = dampener.Record(result.Ok);
            consecutive = dampener.Consecutive;
            needed = dampener.Needed(result.Ok);
        }
        var health = config.Check.Type == HealthCheckType.None ? BackendHealth.Healthy : dampener.Health;
        var reason = changed ? Reason(config.Backend, health, result.Detail, consecutive, needed, result.Ok) : null;
        // A soft-stop takes effect on the first answer that asks for it: it is the server's own deliberate
        // word, not a symptom to dampen. It ends only on a healthy answer that does not ask for it; a
        // failed probe leaves it as it was (otherwise a dying soft-stopped server would get new flows
        // again until fall failures mark it down).
        var softStop = result.SoftStop || (!result.Ok && target.Latest.SoftStop);
        if (softStop != target.Latest.SoftStop)
            reason ??= softStop ? $"{config.Backend} soft-stopped: {result.Detail}" : $"{config.Backend} back from soft-stop: {result.Detail}";
        // Going down (unhealthy, or a soft-stop starting) is what an operator is alerted on: its own log, so the
        // engine can give it a warning's priority without reading the text.
        var down = (changed && health == BackendHealth.Unhealthy) || (softStop && !target.Latest.SoftStop);
        var report = new HealthReport(config.Service, config.Backend, health, result.Ok, result.Detail,
            _time.GetUtcNow(), consecutive, needed, changed, reason, softStop);
        target.Latest = report;

        if (reason is not null) Log(down ? _logDown : _log, $"health {config.Service}: {reason}");
        try
        {
            _sink.Report(report);
        }
        catch (Exception e)
        {
            // The sink is someone else's code; its failure must not end this target's checks.
            Log(_log, $"health {config.Service}: report sink failed for {config.Backend}: {e.Message}");
        }
    }

    /// <summary>"web1 unhealthy: http 503 after 2/2 failures", "web1 healthy: http 200 after 2/2 successes".</summary>
    internal static string Reason(string backend, BackendHealth health, string detail, int consecutive, int needed, bool ok)
    {
        var text = $"{backend} {ModeNames.Name(health)}: {detail}";
        if (needed == 0) return text;
        var kind = ok ? (needed == 1 ? "success" : "successes") : (needed == 1 ? "failure" : "failures");
        return $"{text} after {consecutive}/{needed} {kind}";
    }

    private static void Log(Action<string>? log, string message)
    {
        if (log is null) return;
        try
        {
            log(message);
        }
        catch (Exception)
        {
            // Logging is best effort; a broken log must not stop health checking.
        }
    }

    private double NextDouble()
    {
        // Random is not thread-safe and the loops draw from it concurrently.
        lock (_randomGate) return _random.NextDouble();
    }

    private static TimeSpan Scale(TimeSpan interval, double factor) => TimeSpan.FromTicks((long)(interval.Ticks * factor));

    /// <summary>One target's state, touched only by its own loop except <see cref="Latest"/>.</summary>
    private sealed class Target
    {
        // Written by the target's loop, read by Current from any thread: volatile so a reader sees the
        // whole newly published (immutable) report, never a stale one cached in a register.
        private volatile HealthReport _latest;

        private CancellationTokenSource? _cancel;
        private volatile bool _retired;

        /// <param name="initial">The health to start from: the check's initial health when null.</param>
        public Target(HealthTarget config, DateTimeOffset now, Func<HealthCheckType, IHealthProbe> probes, BackendHealth? initial)
        {
            ArgumentNullException.ThrowIfNull(config);
            var check = config.Check ?? throw new ArgumentException($"target {config.Backend} has no check", nameof(config));
            if (check.Type != HealthCheckType.None)
            {
                if (check.Interval <= TimeSpan.Zero) throw new ArgumentException($"target {config.Backend}: interval must be positive", nameof(config));
                if (check.Timeout <= TimeSpan.Zero) throw new ArgumentException($"target {config.Backend}: timeout must be positive", nameof(config));
            }
            Config = config;
            Probe = check.Type == HealthCheckType.None ? null
                : config.EnginePort is { } enginePort ? new PeerEngineProbe(enginePort, probes(check.Type))
                : probes(check.Type);
            var start = initial ?? check.Initial;
            Dampener = new HealthDampener(check.Rise, check.Fall, start);
            _latest = new HealthReport(config.Service, config.Backend, start, false, "not checked yet", now,
                0, check.Rise, false, null);
        }

        public bool Retired => _retired;
        public CancellationToken Token => _cancel?.Token ?? CancellationToken.None;

        /// <summary>Its own stop: the checker's, or a reload's that removes it.</summary>
        public void Link(CancellationToken stop) => _cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);

        public void Retire()
        {
            _retired = true;
            _cancel?.Cancel();
        }

        public HealthTarget Config { get; }
        /// <summary>Null for type none, which is never probed.</summary>
        public IHealthProbe? Probe { get; }
        public HealthDampener Dampener { get; }
        public Task? Abandoned { get; set; }

        public HealthReport Latest
        {
            get => _latest;
            set => _latest = value;
        }
    }
}

/// <summary>What <see cref="HealthChecker.Update"/> did: targets kept as they were, restarted with another check,
/// added, and stopped.</summary>
public readonly record struct HealthUpdate(int Kept, int Restarted, int Added, int Removed);
