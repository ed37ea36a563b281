using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting.Platform;

namespace LoadBalancer.Hosting;

/// <summary>Announces VIPs (<c>announce:</c> and a service's <c>announce: true</c>) as routes in a kernel table the
/// operator's routing daemon exports by BGP. A VIP is present exactly while some announced service on it can take a
/// new flow: the engine runs, the service has a usable backend, and none of its backends' health is still
/// <c>unknown</c> (right after a start, a balancer whose table spans fewer backends than its peers' would send flows
/// the router moves to it elsewhere). The routes go through a device this process alone holds, so they vanish with
/// it whatever kills it (<see cref="IAnnouncedRoutes"/>). Evaluated after every snapshot change, from one thread
/// (<see cref="Apply"/> is also what tests call).</summary>
public sealed class VipAnnouncer : IDisposable
{
    private const int PollMs = 100;

    private readonly IAnnouncedRoutes _routes;
    private readonly DataPlaneState _state;
    private readonly EngineLog _log;
    private readonly HashSet<uint> _announced = new();
    private readonly object _gate = new();
    private long _appliedVersion = -1;

    public VipAnnouncer(IAnnouncedRoutes routes, int table, DataPlaneState state, EngineLog log)
    {
        _routes = routes;
        _state = state;
        _log = log;
        Table = table;
    }

    public int Table { get; }

    /// <summary>Whether the service's VIP is announced now.</summary>
    public bool IsAnnounced(ServiceSnapshot service)
    {
        lock (_gate) return _announced.Contains(service.Vip) && ShouldAnnounce(service);
    }

    /// <summary>Announced services that can take a new flow: usable backends, all of them decided.</summary>
    public static bool ShouldAnnounce(ServiceSnapshot s)
    {
        if (!s.Announce || s.AllDown || s.Backends.Length == 0) return false;
        foreach (var b in s.Backends)
            if (b.Health == BackendHealth.Unknown) return false;
        return true;
    }

    public void Run(CancellationToken stop)
    {
        _log.Info($"announcing VIPs as routes in table {Table} via {_routes.Device}");
        while (!stop.IsCancellationRequested)
        {
            Apply();
            stop.WaitHandle.WaitOne(PollMs);
        }
    }

    /// <summary>Brings the table in line with the current snapshot (nothing to do when it has not changed).</summary>
    public void Apply()
    {
        var snapshot = _state.Current;
        lock (_gate)
        {
            if (snapshot.Version == _appliedVersion) return;
            var wanted = new HashSet<uint>();
            foreach (var s in snapshot.Services)
                if (ShouldAnnounce(s)) wanted.Add(s.Vip);
            foreach (var vip in wanted.Where(v => !_announced.Contains(v)).ToArray())
                if (Try(() => _routes.Add(vip), $"announce {Ipv4.Format(vip)}"))
                {
                    _announced.Add(vip);
                    _log.Info($"announced {Ipv4.Format(vip)}/32 (table {Table}): a service on it has a usable backend");
                }
            foreach (var vip in _announced.Where(v => !wanted.Contains(v)).ToArray())
                if (Try(() => _routes.Remove(vip), $"withdraw {Ipv4.Format(vip)}"))
                {
                    _announced.Remove(vip);
                    _log.Info($"withdrew {Ipv4.Format(vip)}/32 (table {Table}): no service on it can take a new flow");
                }
            // A failed change is tried again at the next pass: the version is only recorded once all went through.
            if (_announced.SetEquals(wanted)) _appliedVersion = snapshot.Version;
        }
    }

    private bool Try(Action change, string what)
    {
        try
        {
            change();
            return true;
        }
        catch (InvalidOperationException e)
        {
            _log.Error($"{what}: {e.Message}");
            return false;
        }
    }

    /// <summary>The device goes, and its routes with it.</summary>
    public void Dispose() => _routes.Dispose();
}
