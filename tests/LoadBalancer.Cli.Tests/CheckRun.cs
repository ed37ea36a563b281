using System.Diagnostics;
using System.Globalization;
using LoadBalancer.Cli.Commands;

namespace LoadBalancer.Cli.Tests;

/// <summary>What the <c>lb check</c> tests need: a config written to a file, the command run on it, its output lines.</summary>
internal static class CheckRun
{
    /// <summary>Runs <c>lb check</c> on <paramref name="path"/>: its exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) RunCheck(string path)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CheckCommand.Run(path, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs <c>lb check</c> on <paramref name="yaml"/> written to a file and asserts a refusal: exit code 2,
    /// exactly <paramref name="expected"/> on stdout (each <c>LINE: message</c>, printed after the file's path) and
    /// nothing on stderr.</summary>
    public static void AssertCheckRefuses(string yaml, params string[] expected)
    {
        using var file = new TempFile(yaml);
        var (code, output, error) = RunCheck(file.Path);
        Assert.Equal(2, code);
        Assert.Equal(expected.Select(e => $"{file.Path}:{e}"), OutputLines(output));
        Assert.Equal("", error);
    }

    /// <summary>Runs <c>lb check</c> on <paramref name="yaml"/> written to a file and asserts it passes: exit code 0, "ok".</summary>
    public static void AssertCheckOk(string yaml)
    {
        using var file = new TempFile(yaml);
        var (code, output, _) = RunCheck(file.Path);
        Assert.Equal(0, code);
        Assert.Equal("ok" + Environment.NewLine, output);
    }

    /// <summary>The non-empty lines of <paramref name="output"/>.</summary>
    public static string[] OutputLines(string output) =>
        output.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The most memory an <see cref="RunLb"/> child may hold: its GC heap is capped at this, so a config
    /// that would need more fails the command with OutOfMemoryException instead of passing slowly.</summary>
    public const long MemoryLimitBytes = 200L * 1024 * 1024;

    /// <summary>Runs the built <c>lb</c> (lb.dll, copied beside the tests) as a child process with
    /// <paramref name="args"/>, its GC heap capped at <see cref="MemoryLimitBytes"/>; killed after
    /// <paramref name="timeout"/>. Reports how long it ran and the largest resident size (VmHWM) seen while
    /// it ran, sampled every few milliseconds.</summary>
    public static LbRun RunLb(TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lb.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["DOTNET_GCHeapHardLimit"] = MemoryLimitBytes.ToString("X", CultureInfo.InvariantCulture);

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        long peak = 0;
        var timedOut = false;
        while (!process.WaitForExit(5))
        {
            peak = Math.Max(peak, PeakResidentBytes(process.Id));
            if (clock.Elapsed <= timeout) continue;
            process.Kill(entireProcessTree: true);
            timedOut = true;
            break;
        }
        process.WaitForExit();
        clock.Stop();
        return new LbRun(timedOut ? null : process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult(), clock.Elapsed, peak);
    }

    /// <summary>VmHWM of /proc/PID/status in bytes; 0 once the process is gone (a zombie has none).</summary>
    private static long PeakResidentBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // It exited between the wait and the read.
        }
        return 0;
    }
}

/// <summary>What a child <c>lb</c> did: <see cref="Code"/> is null when it was killed at the timeout.</summary>
internal sealed record LbRun(int? Code, string Out, string Err, TimeSpan Elapsed, long PeakResidentBytes);

/// <summary>A config file in the temp directory holding <c>contents</c>, deleted on dispose.</summary>
internal sealed class TempFile : IDisposable
{
    public TempFile(string contents)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"lb-test-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(Path, contents);
    }

    public string Path { get; }

    public void Dispose() => File.Delete(Path);
}

/// <summary>A FIFO (named pipe) in the temp directory that nothing writes to, made by mkfifo, deleted on dispose:
/// opening it for reading blocks until a writer comes.</summary>
internal sealed class TempFifo : IDisposable
{
    public TempFifo()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"lb-test-{Guid.NewGuid():N}.fifo");
        using var mkfifo = Process.Start("mkfifo", ["-m", "600", Path]);
        mkfifo.WaitForExit();
        if (mkfifo.ExitCode != 0) throw new InvalidOperationException($"mkfifo {Path} exited with {mkfifo.ExitCode}");
    }

    public string Path { get; }

    public void Dispose() => File.Delete(Path);
}
