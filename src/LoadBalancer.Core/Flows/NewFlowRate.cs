namespace LoadBalancer.Core.Flows;

/// <summary>One worker's cap on new flows per second (<c>new_flow_rate:</c>), as Katran caps new connections per
/// CPU: a token bucket holding a tenth of a second's worth, so a burst of real clients passes and a flood is held
/// to the rate. Only what would create a flow-table entry or a NAT session asks; packets of known flows never do,
/// so established traffic is untouched however hard the flood. Single-threaded: its worker's alone.</summary>
public sealed class NewFlowRate
{
    // Tokens in thousandths of a flow: one millisecond earns exactly PerSecond of them, no division on the path.
    private const long Unit = 1000;
    private readonly long _burst;
    private long _tokens;
    private long _lastMs;

    public NewFlowRate(int perSecond, long nowMs = 0)
    {
        if (perSecond < 1) throw new ArgumentOutOfRangeException(nameof(perSecond), "at least one new flow per second");
        PerSecond = perSecond;
        _burst = Math.Max(1, perSecond / 10) * Unit;
        _tokens = _burst;
        _lastMs = nowMs;
    }

    public int PerSecond { get; }

    /// <summary>Whether one more new flow fits the rate now; takes its token when it does.</summary>
    public bool TryAdmit(long nowMs)
    {
        var elapsed = nowMs - _lastMs;
        if (elapsed > 0)
        {
            _lastMs = nowMs;
            // Capped before multiplying: a worker idle for days must not overflow.
            _tokens = elapsed >= _burst ? _burst : Math.Min(_burst, _tokens + elapsed * PerSecond);
        }
        if (_tokens < Unit) return false;
        _tokens -= Unit;
        return true;
    }
}
