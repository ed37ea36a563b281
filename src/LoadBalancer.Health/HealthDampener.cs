using LoadBalancer.Core.Model;

namespace LoadBalancer.Health;

/// <summary>The policy between raw probe results and a backend's health, with HAProxy's semantics:
/// <c>rise</c> consecutive successes make an unknown or unhealthy backend healthy, <c>fall</c>
/// consecutive failures make an unknown or healthy backend unhealthy, and a result of the other kind
/// starts the count again. So a backend flapping faster than rise/fall never changes state.
/// Not thread-safe: each target's check loop owns one.</summary>
public sealed class HealthDampener
{
    private readonly int _rise;
    private readonly int _fall;
    private bool _lastOk;

    public HealthDampener(int rise, int fall, BackendHealth initial)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rise, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(fall, 1);
        if (!Enum.IsDefined(initial)) throw new ArgumentOutOfRangeException(nameof(initial));
        _rise = rise;
        _fall = fall;
        Health = initial;
    }

    public BackendHealth Health { get; private set; }

    /// <summary>Consecutive results of the kind last recorded (0 before the first).</summary>
    public int Consecutive { get; private set; }

    /// <summary>Rise or fall: what a result of this kind needs to change the health.</summary>
    internal int Needed(bool ok) => ok ? _rise : _fall;

    /// <summary>Records one result; returns true when it changed <see cref="Health"/>.</summary>
    public bool Record(bool ok)
    {
        if (Consecutive > 0 && ok == _lastOk)
        {
            // Saturate: a backend healthy for years must not wrap around to a negative count.
            if (Consecutive < int.MaxValue) Consecutive++;
        }
        else
        {
            _lastOk = ok;
            Consecutive = 1;
        }

        var target = ok ? BackendHealth.Healthy : BackendHealth.Unhealthy;
        if (Health == target || Consecutive < Needed(ok)) return false;
        Health = target;
        return true;
    }
}
