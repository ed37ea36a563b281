using LoadBalancer.Core.Model;
using LoadBalancer.Health.Probes;

namespace LoadBalancer.Health;

/// <summary>The built-in probe for each <see cref="HealthCheckType"/>. Probes hold no state, so one
/// instance of each serves every target.</summary>
public static class HealthProbes
{
    public static IHealthProbe For(HealthCheckType type) => type switch
    {
        HealthCheckType.None => NoneProbe.Instance,
        HealthCheckType.Tcp => TcpProbe.Instance,
        HealthCheckType.Http => HttpProbe.Http,
        HealthCheckType.Https => HttpProbe.Https,
        HealthCheckType.Udp => UdpProbe.Instance,
        HealthCheckType.Exec => ExecProbe.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "no probe for this health check type"),
    };
}
