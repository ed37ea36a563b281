using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Kernel;

/// <summary>Pins the calling thread to one CPU (config <c>cpus:</c>): a worker that stays on the core its
/// receive processing runs on keeps its ring and flow table in that core's cache, and one that shares a
/// core with the softirq filling its ring is a placement the operator chose, not an accident.</summary>
public static unsafe class CpuAffinity
{
    /// <summary>cpu_set_t as glibc sizes it: 1024 CPUs.</summary>
    public const int MaxCpus = 1024;

    private const int Words = MaxCpus / 64;

    public static void PinCurrentThread(int cpu) => Apply(0, [cpu], nameof(cpu), $"sched_setaffinity(cpu {cpu})");

    /// <summary>The CPUs thread <paramref name="pid"/> may run on (0: the calling thread), lowest first.</summary>
    public static IReadOnlyList<int> Of(int pid = 0)
    {
        var mask = stackalloc ulong[Words];
        if (LibC.sched_getaffinity(pid, (nuint)(MaxCpus / 8), mask) != 0) throw NativeException.Last($"sched_getaffinity({pid})");
        var cpus = new List<int>();
        for (var c = 0; c < MaxCpus; c++)
            if ((mask[c / 64] & (1UL << (c % 64))) != 0) cpus.Add(c);
        return cpus;
    }

    /// <summary>Lets thread <paramref name="pid"/> (a kernel thread too) run on <paramref name="cpus"/> only.</summary>
    public static void Set(int pid, IReadOnlyCollection<int> cpus) => Apply(pid, cpus, nameof(cpus), $"sched_setaffinity(pid {pid})");

    private static void Apply(int pid, IReadOnlyCollection<int> cpus, string parameter, string call)
    {
        var mask = stackalloc ulong[Words];
        new Span<ulong>(mask, Words).Clear();
        foreach (var cpu in cpus)
        {
            if (cpu is < 0 or >= MaxCpus) throw new ArgumentOutOfRangeException(parameter, cpu, $"a CPU number is 0..{MaxCpus - 1}");
            mask[cpu / 64] |= 1UL << (cpu % 64);
        }
        if (LibC.sched_setaffinity(pid, (nuint)(MaxCpus / 8), mask) != 0) throw NativeException.Last(call);
    }
}
