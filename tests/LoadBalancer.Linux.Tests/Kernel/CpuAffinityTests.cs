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
    [Fact]
    public void Of_TheCallingThread_IsWhatTheKernelLists()
    {
        var listed = OnNewThread(() => (Of: string.Join(",", CpuAffinity.Of()), Kernel: AllowedCpus()));
        // The kernel writes ranges ("0-1"); the test machine's set is small enough to spell it out.
        var expanded = string.Join(",", listed.Kernel.Split(',').SelectMany(r =>
        {
            var ends = r.Split('-').Select(int.Parse).ToArray();
            return Enumerable.Range(ends[0], ends[^1] - ends[0] + 1);
        }));
        Assert.Equal(expanded, listed.Of);
    }

    [Fact]
    public void Set_AnotherThreadByItsId_MovesThatThreadOnly()
    {
        var last = Environment.ProcessorCount - 1;
        using var ready = new ManualResetEventSlim();
        using var moved = new ManualResetEventSlim();
        var tid = 0;
        string? seen = null;
        var thread = new Thread(() =>
        {
            tid = int.Parse(File.ReadAllText("/proc/thread-self/stat").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            ready.Set();
            moved.Wait();
            seen = AllowedCpus();
        });
        var before = AllowedCpus();
        thread.Start();
        ready.Wait();
        CpuAffinity.Set(tid, [last]);
        Assert.Equal([last], CpuAffinity.Of(tid));
        moved.Set();
        thread.Join();

        Assert.Equal(last.ToString(System.Globalization.CultureInfo.InvariantCulture), seen);
        Assert.Equal(before, AllowedCpus());
    }

    [Fact]
    public void Set_CpuOutOfRange_IsRefusedBeforeTheKernel()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuAffinity.Set(0, [CpuAffinity.MaxCpus]));
    }
}
