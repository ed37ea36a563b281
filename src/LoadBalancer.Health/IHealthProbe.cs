namespace LoadBalancer.Health;

/// <summary>The outcome of one probe. <paramref name="Detail"/> is short and meant for operators,
/// e.g. <c>http 503</c>, <c>tcp connect refused</c>, <c>timeout after 1000 ms</c>.
/// <paramref name="SoftStop"/>: the backend answered, alive, but asked to be drained (an http check got
/// the configured soft-stop status, e.g. 404 after /running was removed).</summary>
public readonly record struct ProbeResult(bool Ok, string Detail, bool SoftStop = false);

/// <summary>Checks a target once. Implementations finish within <see cref="Core.Model.HealthCheckConfig.Timeout"/>
/// and turn every failure of the backend (refused, reset, bad answer, timeout) into a failed
/// <see cref="ProbeResult"/>; they throw only when <paramref name="cancellationToken"/> is cancelled.</summary>
public interface IHealthProbe
{
    Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken);
}
