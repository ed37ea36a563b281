using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Health;

namespace LoadBalancer.Hosting;

/// <summary>The last probe result for a backend, as shown by <c>lb status</c>.</summary>
public sealed record LastCheck(bool Ok, string Detail, DateTimeOffset At);

/// <summary>What the control plane knows about each backend beyond the config: health (from the health
/// checker, in-process or over the control socket), the operator's intent and weight (from
/// <c>lb backend ...</c>), and the last check. It is the input of every snapshot rebuild. Control-plane
/// only: every method takes one lock; the data path never sees this object, only the snapshots built from it.
/// Changes reach it through <see cref="EngineControl"/>, which rebuilds the snapshot when they matter.</summary>
public sealed class BackendStateTable
{
    private sealed class Entry
    {
        public BackendHealth Health;
        public BackendIntent Intent;
        public int Weight;
        public bool SoftStopped;
        public LastCheck? Last;
        public int Consecutive;
        public int Needed;
    }

    public readonly record struct View(BackendHealth Health, BackendIntent Intent, int Weight, bool SoftStopped, LastCheck? Last, int Consecutive, int Needed);

    private readonly object _gate = new();
    private readonly Dictionary<(string Service, string Backend), Entry> _entries = new();

    public BackendStateTable(BalancerConfig config)
    {
        foreach (var s in config.Services)
            foreach (var b in s.EffectiveBackends)
            {
                var initial = SnapshotBuilder.DefaultRuntime(s, b);
                _entries[(s.Name, b.Name)] = new Entry { Health = initial.Health, Intent = initial.Intent, Weight = initial.Weight };
            }
    }

    /// <summary>For <see cref="SnapshotBuilder.Build"/>.</summary>
    public BackendRuntime Runtime(ServiceConfig service, BackendConfig backend)
    {
        lock (_gate)
        {
            return _entries.TryGetValue((service.Name, backend.Name), out var e)
                ? new BackendRuntime(e.Health, e.Intent, e.Weight, e.SoftStopped)
                : SnapshotBuilder.DefaultRuntime(service, backend);
        }
    }

    public View? Get(string service, string backend)
    {
        lock (_gate)
        {
            return _entries.TryGetValue((service, backend), out var e)
                ? new View(e.Health, e.Intent, e.Weight, e.SoftStopped, e.Last, e.Consecutive, e.Needed)
                : null;
        }
    }

    /// <summary>Records a check result. Returns true when the backend's health or soft-stop changed (the table must be rebuilt).</summary>
    public bool ApplyCheck(HealthReport r, out string? error) =>
        Change(r.Service, r.Backend, e =>
        {
            e.Last = new LastCheck(r.Ok, r.Detail, r.At);
            e.Consecutive = r.Consecutive;
            e.Needed = r.Needed;
            if (e.Health == r.Health && e.SoftStopped == r.SoftStop) return false;
            e.Health = r.Health;
            e.SoftStopped = r.SoftStop;
            return true;
        }, out error);

    /// <summary>Sets the operator's intent; returns whether it changed, or an error.</summary>
    public bool SetIntent(string service, string backend, BackendIntent intent, out string? error) =>
        Change(service, backend, e =>
        {
            var changed = e.Intent != intent;
            e.Intent = intent;
            return changed;
        }, out error);

    public bool SetWeight(string service, string backend, int weight, out string? error) =>
        Change(service, backend, e =>
        {
            var changed = e.Weight != weight;
            e.Weight = weight;
            return changed;
        }, out error);

    /// <summary>Applies a change under the lock; the change returns whether anything differed.</summary>
    private bool Change(string service, string backend, Func<Entry, bool> change, out string? error)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue((service, backend), out var e))
            {
                error = $"no backend {backend} in service {service}";
                return false;
            }
            error = null;
            return change(e);
        }
    }
}
