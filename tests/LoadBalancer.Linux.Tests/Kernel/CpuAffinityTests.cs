using LoadBalancer.Linux.Interop;
using LoadBalancer.Linux.Kernel;

namespace LoadBalancer.Linux.Tests.Kernel;

public class CpuAffinityTests
{
    private static string AllowedCpus() =>
        File.ReadLines("/proc/thread-self/status").Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim();

    private static T OnNewThread<T>(Func<T> body)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { result = body(); }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        return error is null ? result : throw error;
    }

    [Fact]
    public void PinCurrentThread_TheKernelReportsThatOneCpu_ForThatThreadOnly()
    {
        var before = AllowedCpus();
        var last = Environment.ProcessorCount - 1;

        var pinned = OnNewThread(() =>
        {
            CpuAffinity.PinCurrentThread(last);
            return AllowedCpus();
        });

        Assert.Equal(last.ToString(System.Globalization.CultureInfo.InvariantCulture), pinned);
        Assert.Equal(before, AllowedCpus());
    }

    [Fact]
    public void PinCurrentThread_CpuThisHostDoesNotHave_ThrowsWithTheCallNamed()
    {
        var e = Assert.Throws<NativeException>(() => OnNewThread(() =>
        {
            CpuAffinity.PinCurrentThread(CpuAffinity.MaxCpus - 1);
            return 0;
        }));
        Assert.Contains($"sched_setaffinity(cpu {CpuAffinity.MaxCpus - 1})", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PinCurrentThread_NegativeCpu_IsRefusedBeforeTheKernel()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuAffinity.PinCurrentThread(-1));
    }
}
