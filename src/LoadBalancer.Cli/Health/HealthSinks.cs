using System.Net;
using System.Text.Json;
using LoadBalancer.Cli.Control;
using LoadBalancer.Hosting;
using LoadBalancer.Core.Model;
using LoadBalancer.Health;

namespace LoadBalancer.Cli.Health;

/// <summary>The checker's targets for a config: every backend of every service that has a check (for CLUSTERIP,
/// every node, its engine's heartbeat first). Services without one (type none) need no checker: their
/// backends are healthy by configuration.</summary>
internal static class HealthTargets
{
    public static IReadOnlyList<HealthTarget> From(BalancerConfig config) =>
        config.Services
            .Where(s => s.Health.Type != HealthCheckType.None)
            .SelectMany(s => s.EffectiveBackends.Select(b => new HealthTarget(s.Name, b.Name, b.Address, s.Health.Port ?? s.Port, s.Health,
                s.Cluster is { HeartbeatPort: > 0 } cluster ? cluster.HeartbeatPort : null)))
            .ToArray();
}

/// <summary>In-process: the checker inside <c>lb run</c> hands results straight to the engine, by the same route
/// as results that arrive over the control socket.</summary>
internal sealed class EngineHealthSink(EngineControl control, EngineLog log) : IHealthReportSink
{
    public void Report(HealthReport r)
    {
        if (control.ApplyHealth(r).Error is { } error) log.Error($"health report ignored: {error}");
    }
}

/// <summary>Out of process: <c>lb healthcheck</c> sends each result as <c>health {json}</c> over the
/// engine's control socket. While the engine cannot be reached, results are dropped (the next check
/// sends a fresh one) and that is said once, not per result.</summary>
internal sealed class ControlSocketHealthSink(string socket, Action<string> log) : IHealthReportSink
{
    private int _unreachable;

    public void Report(HealthReport r)
    {
        var message = new HealthMessage(r.Service, r.Backend, ModeNames.Name(r.Health), r.Ok, r.Detail, r.At, r.Consecutive, r.Needed, r.Reason, r.SoftStop);
        var line = "health " + JsonSerializer.Serialize(message, HealthMessageJson.Default.HealthMessage);
        if (ControlClient.TryRequest(socket, line, out var response))
        {
            if (Interlocked.Exchange(ref _unreachable, 0) == 1) log($"engine reachable again at {socket}");
            if (response.Contains("\"error\"", StringComparison.Ordinal)) log($"engine refused a health report: {response}");
        }
        else if (Interlocked.Exchange(ref _unreachable, 1) == 0)
            log($"cannot reach the engine at {socket} ({response}); results are dropped until it answers");
    }
}
