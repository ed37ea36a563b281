using LoadBalancer.Core.Model;

namespace LoadBalancer.Health;

/// <summary>What the checker saw for one target after one check.</summary>
/// <param name="Health">Health after this result went through the dampener.</param>
/// <param name="Consecutive">Consecutive results of the same kind as this one (successes if
/// <paramref name="Ok"/>, failures if not), this one included.</param>
/// <param name="Needed">Rise (for a success) or fall (for a failure): how many it takes to change.</param>
/// <param name="Changed">This result changed <paramref name="Health"/>.</param>
/// <param name="Reason">When <paramref name="Changed"/> (or the soft-stop state flipped), e.g.
/// <c>web1 unhealthy: http 503 after 2/2 failures</c> or <c>web1 soft-stopped: http 404</c>; else null.</param>
/// <param name="SoftStop">The latest answer asked for a drain (see <see cref="ProbeResult.SoftStop"/>).</param>
public sealed record HealthReport(
    string Service,
    string Backend,
    BackendHealth Health,
    bool Ok,
    string Detail,
    DateTimeOffset At,
    int Consecutive,
    int Needed,
    bool Changed,
    string? Reason,
    bool SoftStop = false);

/// <summary>Receives every report (not only changes). Called from any thread, concurrently for
/// different targets; it must not block long, since the target's next check waits for it.</summary>
public interface IHealthReportSink
{
    void Report(HealthReport report);
}
