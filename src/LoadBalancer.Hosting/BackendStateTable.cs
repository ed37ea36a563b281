using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Health;
using LoadBalancer.Hosting.Reload;

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
        public Entry Copy() => (Entry)MemberwiseClone();

        public BackendHealth Health;
        public BackendIntent Intent;
        public int Weight;
        public bool SoftStopped;
        public LastCheck? Last;
        public int Consecutive;
        public int Needed;
        public long ChecksOk;
        public long ChecksFailed;
    }

    /// <param name="ChecksOk">Check results received since the start (they survive reloads), passed and failed.</param>
    public readonly record struct View(BackendHealth Health, BackendIntent Intent, int Weight, bool SoftStopped, LastCheck? Last, int Consecutive, int Needed,
        long ChecksOk = 0, long ChecksFailed = 0);

    /// <summary>A backend a reload removed while it still had flows (<c>on_backend_down: keep</c>): served from its
    /// last config and state, with no new flows, until its flows have ended.</summary>
    public sealed record LeavingBackend(string Service, BackendConfig Backend, int Id, BackendRuntime Runtime);

    private readonly object _gate = new();
    private readonly Dictionary<(string Service, string Backend), Entry> _entries = new();
    private readonly List<LeavingBackend> _leaving = new();

    private BackendStateTable() { }

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
            foreach (var l in _leaving)
                if (ReferenceEquals(l.Backend, backend)) return l.Runtime;
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
                ? new View(e.Health, e.Intent, e.Weight, e.SoftStopped, e.Last, e.Consecutive, e.Needed, e.ChecksOk, e.ChecksFailed)
                : null;
        }
    }

    /// <summary>The backends kept only for their flows, as of now.</summary>
    public IReadOnlyList<LeavingBackend> Leaving
    {
        get
        {
            lock (_gate) return _leaving.ToArray();
        }
    }

    /// <summary>The service's backends as the next snapshot serves them: the configured ones, then those leaving.</summary>
    public ServiceConfig WithLeaving(ServiceConfig service)
    {
        lock (_gate)
        {
            if (!_leaving.Exists(l => l.Service == service.Name)) return service;
            return service with { Backends = [.. service.Backends, .. _leaving.Where(l => l.Service == service.Name).Select(l => l.Backend)] };
        }
    }

    /// <summary>This table as a reload to <paramref name="next"/> leaves it, as a new table (the running one is not
    /// touched, so a reload refused later changes nothing). What the new config still has keeps its health, last
    /// check, rise/fall progress, intent and runtime weight, except a weight the file itself changed. New backends,
    /// and backends replaced by another address or port, start from the config. A removed backend of a service
    /// under <c>on_backend_down: keep</c> that still has flows (<paramref name="liveFlows"/> by its id) becomes
    /// leaving; otherwise it is gone and its flows go where the service sends them. A leaving backend that the new
    /// config has again, unchanged, is back. A service whose check is now none has healthy backends.</summary>
    public BackendStateTable Reconciled(BalancerConfig next, ConfigDiff diff, Func<ServiceConfig, BackendConfig, int> idOf, Func<int, long> liveFlows)
    {
        var table = new BackendStateTable();
        lock (_gate)
        {
            foreach (var s in next.Services)
                foreach (var b in s.EffectiveBackends)
                {
                    var key = (s.Name, b.Name);
                    var replaced = diff.Removed.Any(r => r.Service.Name == s.Name && r.Backend.Name == b.Name);
                    Entry entry;
                    if (!replaced && _entries.TryGetValue(key, out var kept))
                    {
                        entry = kept.Copy();
                        if (diff.WeightChanged(s.Name, b.Name)) entry.Weight = b.Weight;
                        if (s.Health.Type == HealthCheckType.None) entry.Health = BackendHealth.Healthy;
                    }
                    else
                    {
                        var initial = SnapshotBuilder.DefaultRuntime(s, b);
                        entry = new Entry { Health = initial.Health, Intent = initial.Intent, Weight = initial.Weight };
                        // Back before its flows ended: the same server, so its state is still true.
                        if (_leaving.Find(l => l.Service == s.Name && l.Backend.Name == b.Name && Equals(l.Backend.Address, b.Address) && l.Backend.Port == b.Port) is { } back)
                            entry = new Entry { Health = back.Runtime.Health, Intent = back.Runtime.Intent, Weight = b.Weight, SoftStopped = back.Runtime.SoftStopped };
                    }
                    table._entries[key] = entry;
                }

            var services = next.Services.ToDictionary(s => s.Name, StringComparer.Ordinal);
            bool Keeps(string service) => services.TryGetValue(service, out var s) && s.OnBackendDown == BackendDownAction.Keep;
            bool Back(LeavingBackend l) => services.TryGetValue(l.Service, out var s) &&
                                           s.Backends.Any(b => b.Name == l.Backend.Name && Equals(b.Address, l.Backend.Address) && b.Port == l.Backend.Port);
            foreach (var l in _leaving)
                if (Keeps(l.Service) && !Back(l) && liveFlows(l.Id) > 0) table._leaving.Add(l);
            foreach (var (service, backend) in diff.Removed)
            {
                var id = idOf(service, backend);
                if (!Keeps(service.Name) || liveFlows(id) == 0) continue;
                var runtime = _entries.TryGetValue((service.Name, backend.Name), out var e)
                    ? new BackendRuntime(e.Health, e.Intent, e.Weight, e.SoftStopped)
                    : SnapshotBuilder.DefaultRuntime(service, backend);
                table._leaving.Add(new LeavingBackend(service.Name, backend, id, runtime with { Leaving = true }));
            }
        }
        return table;
    }

    /// <summary>Forgets the leaving backends whose flows have all ended; returns them.</summary>
    public IReadOnlyList<LeavingBackend> RemoveEnded(Func<int, long> liveFlows)
    {
        lock (_gate)
        {
            var ended = _leaving.Where(l => liveFlows(l.Id) == 0).ToArray();
            foreach (var l in ended) _leaving.Remove(l);
            return ended;
        }
    }

    /// <summary>Records a check result. Returns true when the backend's health or soft-stop changed (the table must be rebuilt).</summary>
    public bool ApplyCheck(HealthReport r, out string? error) =>
        Change(r.Service, r.Backend, e =>
        {
            e.Last = new LastCheck(r.Ok, r.Detail, r.At);
            if (r.Ok) e.ChecksOk++;
            else e.ChecksFailed++;
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
