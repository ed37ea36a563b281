using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Kernel;

/// <summary>CLOCK_MONOTONIC, read as clock_gettime(2) reads it: the clock the service manager means by
/// <c>MONOTONIC_USEC</c> (sd_notify(3)), named here rather than assumed behind .NET's Stopwatch.</summary>
public static unsafe class MonotonicClock
{
    public static long Microseconds()
    {
        timespec t;
        if (LibC.clock_gettime(LibC.CLOCK_MONOTONIC, &t) != 0) throw NativeException.Last("clock_gettime(CLOCK_MONOTONIC)");
        return t.tv_sec * 1_000_000 + t.tv_nsec / 1_000;
    }
}
