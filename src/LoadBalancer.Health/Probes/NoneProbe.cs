namespace LoadBalancer.Health.Probes;

/// <summary><c>none</c>: always healthy. The checker does not schedule it; it exists so that
/// <see cref="HealthProbes.For"/> covers every type.</summary>
internal sealed class NoneProbe : IHealthProbe
{
    public static readonly NoneProbe Instance = new();

    public const string Detail = "no health check";

    public Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken) =>
        Task.FromResult(new ProbeResult(true, Detail));
}
