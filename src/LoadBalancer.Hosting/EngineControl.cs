using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Health;

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

    public EngineControl(BalancerConfig config, SnapshotBuilder builder, EngineLog log)
    {
        Config = config;
        Builder = builder;
        _log = log;
        Backends = new BackendStateTable(config);
        State = new DataPlaneState(builder.Build(config, Backends.Runtime));
    }

    public BalancerConfig Config { get; }
    public SnapshotBuilder Builder { get; }
    /// <summary>Health, intent and weight per backend: the input of every snapshot rebuild.</summary>
    public BackendStateTable Backends { get; }
    public DataPlaneState State { get; }

    /// <summary>Builds a snapshot from the config and the current backend states and publishes it. Workers pick
    /// it up at their next batch without waiting for anything.</summary>
    public DataPlaneSnapshot Rebuild()
    {
        lock (_rebuildGate)
        {
            var snapshot = Builder.Build(Config, Backends.Runtime);
            State.Publish(snapshot);
            // The cause was logged where it happened (health change, operator command); this says it took effect.
            _log.Info($"table rebuilt (snapshot {snapshot.Version})");
            return snapshot;
        }
    }

    /// <summary>A check result. The checker logged the health change itself (once, with its reason).</summary>
    public ControlResult ApplyHealth(HealthReport report) =>
        Apply(Backends.ApplyCheck(report, out var error), error, message: null);

    /// <summary><c>lb backend drain|enable</c>: no new flows for a draining backend, existing ones continue.</summary>
    public ControlResult SetIntent(string service, string backend, BackendIntent intent) =>
        Apply(Backends.SetIntent(service, backend, intent, out var error), error,
            intent == BackendIntent.Draining ? $"{service}/{backend} draining: no new flows, existing flows continue" : $"{service}/{backend} active");

    /// <summary><c>lb backend weight</c>: takes effect at once.</summary>
    public ControlResult SetWeight(string service, string backend, int weight) =>
        Apply(Backends.SetWeight(service, backend, weight, out var error), error, $"{service}/{backend} weight {weight}");

    private ControlResult Apply(bool changed, string? error, string? message)
    {
        if (error is not null) return new ControlResult(false, error, message);
        if (!changed) return new ControlResult(false, null, message);
        if (message is not null) _log.Info($"{message} (operator)");
        Rebuild();
        return new ControlResult(true, null, message);
    }
}
