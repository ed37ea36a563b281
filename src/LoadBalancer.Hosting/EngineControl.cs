using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Health;
using LoadBalancer.Hosting.Events;
using LoadBalancer.Hosting.Reload;

namespace LoadBalancer.Hosting;

/// <summary>What a control request did: whether the data path's view changed (and the snapshot was rebuilt),
/// or why it was refused; <paramref name="Message"/> says what was asked, for the operator.</summary>
public readonly record struct ControlResult(bool Changed, string? Error, string? Message = null);

/// <summary>The engine's control plane: the backend state table (health, intent, weight per backend) and the
/// snapshot builder behind it. Health results (from the in-process checker or from <c>lb healthcheck</c> over the
/// control socket: one route for both) and operator commands change the table here; every change that alters what
/// the data path should do rebuilds the snapshot and publishes it with one reference write, so no packet waits.
/// Thread-safe: results and commands arrive on different threads and rebuilds are serialised here, because the
/// builder's id map and cluster memberships are not thread-safe.</summary>
public sealed class EngineControl
{
    private readonly EngineLog _log;
    private readonly object _rebuildGate = new();
    // volatile: written under the gate by a reload, read without it by status and the health sinks; each is an
    // immutable config or a table that guards itself, published whole.
    private volatile BalancerConfig _config;
    private volatile BackendStateTable _backends;

    public EngineControl(BalancerConfig config, SnapshotBuilder builder, EngineLog log)
    {
        _config = config;
        Builder = builder;
        _log = log;
        _backends = new BackendStateTable(config);
        State = new DataPlaneState(builder.Build(config, _backends.Runtime));
        Events = new StateEvents(log, service => _config.Services.FirstOrDefault(s => s.Name == service)?.Notify);
    }

    /// <summary>Every backend state change as an event (log, count, the service's notify script).</summary>
    public StateEvents Events { get; }

    /// <summary>The config the engine runs, as last loaded (at start or by a reload).</summary>
    public BalancerConfig Config => _config;
    public SnapshotBuilder Builder { get; }
    /// <summary>Health, intent and weight per backend: the input of every snapshot rebuild.</summary>
    public BackendStateTable Backends => _backends;
    public DataPlaneState State { get; }
    /// <summary>Reloads applied since the start, and when the last one was.</summary>
    public int Reloads { get; private set; }
    public DateTime? ReloadedAt { get; private set; }

    /// <summary>Builds a snapshot from the config and the current backend states and publishes it. Workers pick
    /// it up at their next batch without waiting for anything.</summary>
    public DataPlaneSnapshot Rebuild()
    {
        lock (_rebuildGate)
        {
            var snapshot = Build(_config, _backends);
            State.Publish(snapshot);
            // The cause was logged where it happened (health change, operator command); this says it took effect.
            _log.Info($"table rebuilt (snapshot {snapshot.Version})");
            return snapshot;
        }
    }

    /// <summary>A check result. The checker logged the health change itself (once, with its reason).</summary>
    public ControlResult ApplyHealth(HealthReport report)
    {
        lock (_rebuildGate)
        {
            var before = _backends.Get(report.Service, report.Backend);
            var result = Apply(_backends.ApplyCheck(report, out var error), error, message: null);
            if (result.Changed) Announce(report.Service, report.Backend, before, report.Reason ?? report.Detail);
            return result;
        }
    }

    /// <summary><c>lb backend drain|enable</c>: no new flows for a draining backend, existing ones continue.</summary>
    public ControlResult SetIntent(string service, string backend, BackendIntent intent)
    {
        lock (_rebuildGate)
        {
            var before = _backends.Get(service, backend);
            var result = Apply(_backends.SetIntent(service, backend, intent, out var error), error,
                intent == BackendIntent.Draining ? $"{service}/{backend} draining: no new flows, existing flows continue" : $"{service}/{backend} active");
            if (result.Changed) Announce(service, backend, before, "operator");
            return result;
        }
    }

    /// <summary><c>lb backend weight</c>: takes effect at once.</summary>
    public ControlResult SetWeight(string service, string backend, int weight)
    {
        lock (_rebuildGate)
        {
            var before = _backends.Get(service, backend);
            var result = Apply(_backends.SetWeight(service, backend, weight, out var error), error, $"{service}/{backend} weight {weight}");
            if (result.Changed) Announce(service, backend, before, "operator");
            return result;
        }
    }

    /// <summary>Moves the engine to <paramref name="next"/> with one snapshot swap, or changes nothing and says why
    /// (see <see cref="ConfigDiff"/> for what may change and what survives). Health results and operator commands
    /// wait for it (they take the same gate), so none is lost to the table it replaces. The engine's own steps
    /// (<paramref name="steps"/>) judge what only it knows (the interfaces it reads) and move the kernel's side along.</summary>
    public ReloadResult Reload(BalancerConfig next, ReloadSteps steps)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (_rebuildGate)
        {
            var current = _config;
            var diff = ConfigDiff.Compare(current, next);
            var refusals = diff.Refusals.Concat(steps.Admit(next)).ToArray();
            if (refusals.Length > 0) return ReloadResult.Refused(refusals);

            // Flows are counted only when some backend may have to stay for them (a walk of every worker's tables).
            var live = diff.Removed.Count > 0 || _backends.Leaving.Count > 0 ? steps.CountLiveFlows() : null;
            long Live(int id) => live is not null && (uint)id < (uint)live.Length ? live[id] : 0;
            var table = _backends.Reconciled(next, diff, (s, b) => Builder.BackendId(s.Name, b), Live);
            DataPlaneSnapshot snapshot;
            try
            {
                snapshot = Build(next, table);
                if (steps.Fits(next, snapshot) is { } misfit) return ReloadResult.Refused([misfit]);
                steps.BeforePublish(snapshot);
            }
            catch (InvalidOperationException e)
            {
                return ReloadResult.Refused([new ReloadRefusal(0, e.Message)]);
            }
            var previous = _backends;
            _config = next;
            _backends = table;
            State.Publish(snapshot);
            foreach (var s in next.Services)
                foreach (var b in s.EffectiveBackends)
                    if (previous.Get(s.Name, b.Name) is { } was) Announce(s.Name, b.Name, was, "reload");
            Reloads++;
            ReloadedAt = DateTime.UtcNow;
            steps.AfterPublish(snapshot);

            var changes = diff.Changes.ToList();
            foreach (var (service, backend) in diff.Removed)
            {
                var id = Builder.BackendId(service.Name, backend);
                changes.Add(table.Leaving.Any(l => l.Id == id)
                    ? $"backend {service.Name}/{backend.Name} removed, leaving: its {Live(id)} flows continue until they end (on_backend_down keep)"
                    : Live(id) > 0 || service.OnBackendDown != BackendDownAction.Keep
                        ? $"backend {service.Name}/{backend.Name} removed: its flows go to the service's other backends (on_backend_down {ModeNames.Name(service.OnBackendDown)})"
                        : $"backend {service.Name}/{backend.Name} removed: it had no flows");
            }
            foreach (var line in changes) _log.Info($"reload: {line}");
            _log.Info($"reload applied from {next.SourcePath ?? "the new config"} (snapshot {snapshot.Version}, {changes.Count} changes, " +
                      $"{System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:F1} ms)");
            return ReloadResult.Applied(changes, snapshot.Version);
        }
    }

    /// <summary>Drops the leaving backends whose flows have ended (counted by <paramref name="countLiveFlows"/>) and
    /// rebuilds without them. Cheap when none is leaving: nothing is counted.</summary>
    public void RemoveEndedLeaving(Func<long[]> countLiveFlows)
    {
        // Counted outside the gate: the walk takes milliseconds (more when it yields to the workers), and health results
        // and operator commands wait on the gate. A leaving backend takes no new flows, so a count that reached zero stays
        // zero, and one that was not zero keeps the backend for another round.
        lock (_rebuildGate)
            if (_backends.Leaving.Count == 0) return;
        var live = countLiveFlows();
        lock (_rebuildGate)
        {
            if (_backends.Leaving.Count == 0) return;
            var ended = _backends.RemoveEnded(id => (uint)id < (uint)live.Length ? live[id] : 0);
            if (ended.Count == 0) return;
            foreach (var l in ended) _log.Info($"backend {l.Service}/{l.Backend.Name} removed: its last flow has ended");
            Rebuild();
        }
    }

    /// <summary>One event per key of the backend that differs from <paramref name="before"/>.</summary>
    private void Announce(string service, string backend, BackendStateTable.View? before, string reason)
    {
        if (before is not { } was || _backends.Get(service, backend) is not { } now) return;
        var node = _config.Services.FirstOrDefault(s => s.Name == service)?.Mode == ForwardingMode.ClusterIp;
        if (was.Health != now.Health)
            Events.Record(new StateChange(service, backend, node ? StateChangeKind.Node : StateChangeKind.Health, ModeNames.Name(was.Health), ModeNames.Name(now.Health), reason));
        if (was.SoftStopped != now.SoftStopped)
            Events.Record(new StateChange(service, backend, StateChangeKind.SoftStop, was.SoftStopped ? "on" : "off", now.SoftStopped ? "on" : "off", reason));
        if (was.Intent != now.Intent)
            Events.Record(new StateChange(service, backend, StateChangeKind.Intent, ModeNames.Name(was.Intent), ModeNames.Name(now.Intent), reason));
        if (was.Weight != now.Weight)
            Events.Record(new StateChange(service, backend, StateChangeKind.Weight, was.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture),
                now.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture), reason));
    }

    private DataPlaneSnapshot Build(BalancerConfig config, BackendStateTable table) =>
        Builder.Build(table.Leaving.Count == 0 ? config : config with { Services = config.Services.Select(table.WithLeaving).ToArray() }, table.Runtime);

    private ControlResult Apply(bool changed, string? error, string? message)
    {
        if (error is not null) return new ControlResult(false, error, message);
        if (!changed) return new ControlResult(false, null, message);
        if (message is not null) _log.Info($"{message} (operator)");
        Rebuild();
        return new ControlResult(true, null, message);
    }
}

/// <summary>What a reload did: applied, with one line per change, or refused, with why (nothing changed then).</summary>
public sealed record ReloadResult(bool Ok, IReadOnlyList<string> Changes, IReadOnlyList<ReloadRefusal> Refusals, long SnapshotVersion)
{
    public static ReloadResult Applied(IReadOnlyList<string> changes, long version) => new(true, changes, [], version);
    public static ReloadResult Refused(IReadOnlyList<ReloadRefusal> refusals) => new(false, [], refusals, 0);
}

/// <summary>The engine's part of a reload, which the control plane cannot judge alone: whether the new config fits
/// the interfaces and devices the engine opened at start, the live flows per backend id, and moving the kernel's
/// side (ingress drops, announcements) around the swap. <see cref="BeforePublish"/> may refuse by throwing
/// <see cref="InvalidOperationException"/>: then nothing has changed.</summary>
public abstract class ReloadSteps
{
    public abstract IReadOnlyList<ReloadRefusal> Admit(BalancerConfig next);
    public abstract ReloadRefusal? Fits(BalancerConfig next, DataPlaneSnapshot snapshot);
    public abstract long[] CountLiveFlows();
    public abstract void BeforePublish(DataPlaneSnapshot snapshot);
    public abstract void AfterPublish(DataPlaneSnapshot snapshot);
}
