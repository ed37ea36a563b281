using System.Diagnostics;
using System.Text;

namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>Where the repository and the built <c>lb</c> are, and whether namespace tests can run here
/// (root, iproute2, nftables, nginx). test.sh installs the tools; without root the tests are skipped.</summary>
public static class LabEnvironment
{
    public static readonly string RepositoryRoot = FindRoot();

    public static string LbDll
    {
        get
        {
            // Use the build that produced this test assembly (Release under test.sh, Debug in an IDE).
            var configuration = AppContext.BaseDirectory.Contains("/bin/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
            return Path.Combine(RepositoryRoot, "src", "LoadBalancer.Cli", "bin", configuration, "net10.0", "lb.dll");
        }
    }

    /// <summary>The frame port a suite that takes it runs on: <c>LB_LAB_IO=af_xdp</c> puts <c>io: af_xdp</c> in its
    /// configs (the same tests on the other port); unset, the config's own (AF_PACKET).</summary>
    public static string WithIo(string configPath) =>
        Environment.GetEnvironmentVariable("LB_LAB_IO") is { Length: > 0 } io ? ConfigFiles.WithTopLevel(configPath, "io: " + io) : configPath;

    public static string? WhyNotRunnable()
    {
        if (!Environment.IsPrivilegedProcess) return "namespace tests need root (run ./test.sh as root)";
        foreach (var tool in new[] { "ip", "nft", "nginx", "curl", "tcpdump", "tshark", "arping", "keepalived" })
            if (!ExistsOnPath(tool)) return $"{tool} is not installed (./test.sh installs it)";
        if (!File.Exists(LbDll)) return $"{LbDll} is not built";
        return null;
    }

    private static bool ExistsOnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            .Split(':').Append("/usr/sbin").Append("/sbin")
            .Any(dir => File.Exists(Path.Combine(dir, tool)));

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LoadBalancer.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find LoadBalancer.sln above the test assembly");
    }
}

/// <summary>Skipped (with the reason) where namespace tests cannot run; runs everywhere else.</summary>
public sealed class LabFactAttribute : FactAttribute
{
    public LabFactAttribute()
    {
        var why = LabEnvironment.WhyNotRunnable();
        if (why is not null) Skip = why;
    }
}

public sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;
}

/// <summary>Runs a command with a hard time limit; output is captured, never inherited.</summary>
public static class Shell
{
    public static CommandResult Run(string file, IEnumerable<string> args, TimeSpan? timeout = null, string? stdin = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time");
        }
        p.WaitForExit();
        return new CommandResult(p.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static CommandResult Bash(string script, TimeSpan? timeout = null) => Run("bash", ["-c", script], timeout);

    public static CommandResult InNamespace(string ns, IEnumerable<string> command, TimeSpan? timeout = null) =>
        Run("ip", new[] { "netns", "exec", ns }.Concat(command), timeout);

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
