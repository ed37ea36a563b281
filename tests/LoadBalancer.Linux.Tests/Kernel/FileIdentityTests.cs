using System.Diagnostics;
using LoadBalancer.Linux.Kernel;

namespace LoadBalancer.Linux.Tests.Kernel;

public class FileIdentityTests
{
    [Fact]
    public void Of_AnOpenFile_IsWhatStatPrintsForIt()
    {
        var path = Path.GetTempFileName();
        try
        {
            using var file = File.OpenWrite(path);

            var identity = FileIdentity.Of((int)file.SafeFileHandle.DangerousGetHandle());

            using var stat = Process.Start(new ProcessStartInfo("stat", ["-L", "-c", "%d:%i", path]) { RedirectStandardOutput = true })!;
            var expected = stat.StandardOutput.ReadToEnd().Trim();
            stat.WaitForExit();
            Assert.NotNull(identity);
            Assert.Equal(expected, $"{identity.Value.Device}:{identity.Value.Inode}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Of_ADescriptorNotOpen_IsNull() => Assert.Null(FileIdentity.Of(1_000_000));

    [Theory]
    [InlineData(0u, 8u, 8ul)]
    [InlineData(8u, 1u, 2049ul)]
    [InlineData(259u, 0u, 66304ul)]
    [InlineData(0x1234u, 0x56789u, 0x1000_5672_3489ul)]
    public void MakeDev_IsGlibcsEncoding(uint major, uint minor, ulong expected) => Assert.Equal(expected, FileIdentity.MakeDev(major, minor));

    [Fact]
    public void MonotonicClock_IsTheClockStopwatchReads()
    {
        static long StopwatchMicroseconds() => Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1_000_000);

        var before = StopwatchMicroseconds();
        var ours = MonotonicClock.Microseconds();
        var after = StopwatchMicroseconds();

        // Rounding aside (a microsecond either way), ours lies between the two readings.
        Assert.InRange(ours, before - 1, after + 1);
    }
}
