namespace LoadBalancer.Hosting.Sync;

/// <summary>Refuses a message seen before: per sender incarnation (epoch), a sequence number may arrive once and
/// at most <see cref="Size"/> behind the highest seen (the IPsec anti-replay idea, RFC 4303 §3.4.3). A newer epoch
/// is a restarted peer and starts afresh; an older one is a recording and is refused, so the epoch must grow across
/// restarts (it is the start time; a clock stepped back past the previous start holds sync off until it passes it).
/// Meaningful only behind the HMAC: without a key anyone can forge a newer epoch. Not thread-safe (one receiver).</summary>
public sealed class ReplayWindow
{
    public const int Size = 64;

    private ulong _window; // bit i: sequence Highest - i seen
    public ulong Epoch { get; private set; }
    public ulong Highest { get; private set; }

    /// <summary>True, and remembered, when the message is new; false for a replay.</summary>
    public bool Accept(ulong epoch, ulong sequence)
    {
        if (epoch < Epoch) return false;
        if (epoch > Epoch)
        {
            Epoch = epoch;
            Highest = sequence;
            _window = 1;
            return true;
        }
        if (sequence > Highest)
        {
            var shift = sequence - Highest;
            _window = shift >= Size ? 1 : (_window << (int)shift) | 1;
            Highest = sequence;
            return true;
        }
        var behind = Highest - sequence;
        if (behind >= Size) return false;
        var bit = 1UL << (int)behind;
        if ((_window & bit) != 0) return false;
        _window |= bit;
        return true;
    }
}
