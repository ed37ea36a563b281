namespace LoadBalancer.TestKit;

/// <summary>A clock that moves only when a test moves it. Timers created through it fire only from
/// <see cref="Advance"/> or <see cref="FireNext"/>, on the calling thread, in due order, with the clock
/// set to each timer's due time while its callback runs. <see cref="PendingTimers"/> and
/// <see cref="PendingDueTimes"/> let a test wait until the code under test is waiting on the clock
/// before it moves it. (Microsoft.Extensions.TimeProvider.Testing is not in the package feed.)</summary>
public sealed class FakeTimeProvider : TimeProvider
{
    public static readonly DateTimeOffset DefaultStart = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly object _gate = new();
    private readonly List<FakeTimer> _timers = [];
    private DateTimeOffset _now;
    private long _sequence;

    public FakeTimeProvider() : this(DefaultStart)
    {
    }

    public FakeTimeProvider(DateTimeOffset start)
    {
        Start = start;
        _now = start;
    }

    /// <summary>The time the clock was created at.</summary>
    public DateTimeOffset Start { get; }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate) return _now;
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Timers armed and not yet fired (one-shot) or disposed.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_gate) return _timers.Count;
        }
    }

    /// <summary>The due times of the armed timers, earliest first.</summary>
    public IReadOnlyList<DateTimeOffset> PendingDueTimes
    {
        get
        {
            lock (_gate) return _timers.Select(t => t.Due).Order().ToArray();
        }
    }

    /// <summary>Moves the clock forward by <paramref name="by"/>, firing every timer that falls due on the way.</summary>
    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        DateTimeOffset end;
        lock (_gate) end = _now + by;
        while (FireNext(end) is not null)
        {
        }
        lock (_gate)
            if (_now < end) _now = end;
    }

    /// <summary>Moves the clock to the earliest armed timer and fires it; returns its due time, or null
    /// (clock unchanged) when no timer is armed.</summary>
    public DateTimeOffset? FireNext() => FireNext(DateTimeOffset.MaxValue);

    private DateTimeOffset? FireNext(DateTimeOffset notAfter)
    {
        FakeTimer timer;
        DateTimeOffset due;
        lock (_gate)
        {
            if (_timers.Count == 0) return null;
            timer = _timers.MinBy(t => (t.Due, t.Sequence))!;
            due = timer.Due;
            if (due > notAfter) return null;
            if (due > _now) _now = due;
            if (timer.Period is { } period && period > TimeSpan.Zero)
                timer.Due = due + period;
            else
                _timers.Remove(timer);
        }
        // Outside the lock: the callback may create, change or dispose timers.
        timer.Callback(timer.State);
        return due;
    }

    private sealed class FakeTimer(FakeTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public TimerCallback Callback { get; } = callback;
        public object? State { get; } = state;
        public DateTimeOffset Due { get; set; }
        public TimeSpan? Period { get; private set; }
        public long Sequence { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
                if (dueTime == Timeout.InfiniteTimeSpan) return true;
                ArgumentOutOfRangeException.ThrowIfLessThan(dueTime, TimeSpan.Zero);
                Due = owner._now + dueTime;
                Period = period == Timeout.InfiniteTimeSpan ? null : period;
                Sequence = ++owner._sequence;
                owner._timers.Add(this);
                return true;
            }
        }

        public void Dispose()
        {
            lock (owner._gate) owner._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
