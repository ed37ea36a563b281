using System.Diagnostics;
using System.Text.Json;

namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>The real engine (<c>lb run</c>) in the balancer namespace. Ready means: the control socket
/// answers and every backend's MAC is resolved. Stopped with SIGTERM, as an operator's service manager would.</summary>
public sealed class EngineProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _logPath;

    private EngineProcess(Process process, string socket, string logPath)
    {
        _process = process;
        Socket = socket;
        _logPath = logPath;
    }

    public string Socket { get; }
    public string Log => File.Exists(_logPath) ? File.ReadAllText(_logPath) : "";
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;
    /// <summary>The engine's own pid (ip netns exec and the shell both exec into it).</summary>
    public int Pid => _process.Id;

    /// <summary>The engine's peak resident memory so far (VmHWM), in bytes.</summary>
    public long PeakMemoryBytes() =>
        long.Parse(File.ReadAllLines($"/proc/{Pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;

    /// <summary>CPU time the engine has used (user + system), in seconds; tick-based (../shared/LAB.md item 7).</summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        // Fields after the command name (which may hold spaces) start at ") ": utime and stime are fields 14 and 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>Waits (bounded) for the engine to exit by itself; false if it is still running.</summary>
    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public static EngineProcess Start(NamespaceLab lab, string configPath, string socket, string extraArgs = "") =>
        StartIn(lab, lab.BalancerNs, configPath, socket, extraArgs);

    /// <summary>The engine in any namespace of the lab (a CLUSTERIP node runs its own); <paramref name="launcher"/>, a
    /// shell command prefix that execs what follows (setpriv, as <see cref="LeastPrivilege.ServiceAccounts"/> makes it),
    /// and <paramref name="lbDll"/>, another copy of the build, run it as another user.</summary>
    public static EngineProcess StartIn(NamespaceLab lab, string ns, string configPath, string socket, string extraArgs = "",
        EngineLaunch? launch = null, string launcher = "", string? lbDll = null)
    {
        launch ??= new EngineLaunch();
        var logPath = Path.Combine(lab.Dir, $"lb-{Guid.NewGuid():N}.log");
        // The shell redirects output to a file so the engine never blocks on a full pipe; exec keeps
        // the pid the engine's own, so SIGTERM reaches it. JOURNAL_STREAM, as systemd sets it, names the stream on
        // stderr: here the log file, measured after the redirection.
        var journal = launch.JournalStream ? "export JOURNAL_STREAM=\"$(stat -L -c %d:%i /proc/self/fd/2)\"; " : "";
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false };
        foreach (var (name, value) in launch.Environment) psi.Environment[name] = value;
        foreach (var a in new[] { "netns", "exec", ns, "bash", "-c",
                     $"exec > {Shell.Quote(logPath)} 2>&1; {journal}exec {launcher} dotnet {Shell.Quote(lbDll ?? LabEnvironment.LbDll)} run --config {Shell.Quote(configPath)} {extraArgs}" })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        var engine = new EngineProcess(process, socket, logPath);
        try
        {
            if (launch.WaitReady) engine.WaitReady(TimeSpan.FromSeconds(30));
        }
        catch
        {
            engine.Dispose();
            throw;
        }
        return engine;
    }

    public JsonDocument Status()
    {
        var r = QueryStatus();
        if (r.ExitCode != 0) throw new InvalidOperationException($"lb status failed: {r.Output}");
        return JsonDocument.Parse(r.Stdout);
    }

    private CommandResult QueryStatus() =>
        Shell.Run("dotnet", [LabEnvironment.LbDll, "status", "--socket", Socket, "--json"], TimeSpan.FromSeconds(20));

    /// <summary>Waits (bounded) until the control socket answers and every backend's MAC is resolved.</summary>
    public void WaitReady(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"lb run exited with {_process.ExitCode}:\n{Log}");
            if (File.Exists(Socket))
            {
                var r = QueryStatus();
                if (r.ExitCode == 0)
                {
                    using var doc = JsonDocument.Parse(r.Stdout);
                    var allResolved = doc.RootElement.GetProperty("services").EnumerateArray()
                        .SelectMany(s => s.GetProperty("backends").EnumerateArray())
                        .All(b => b.GetProperty("state").GetString() != "unresolved");
                    if (allResolved) return;
                }
            }
            Thread.Sleep(100);
        }
        throw new TimeoutException($"lb run was not ready within {timeout}:\n{Log}");
    }

    /// <summary>Sends the signal (SIGTERM by default) and waits (bounded) for the engine to exit; returns its exit code.</summary>
    public int Stop(TimeSpan? timeout = null, string signal = "TERM")
    {
        if (!_process.HasExited)
        {
            Shell.Run("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            if (!_process.WaitForExit(timeout ?? TimeSpan.FromSeconds(15)))
            {
                _process.Kill();
                _process.WaitForExit();
                throw new TimeoutException($"lb run ignored SIGTERM:\n{Log}");
            }
        }
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) Stop();
        }
        catch (TimeoutException)
        {
        }
        _process.Dispose();
    }
}

/// <summary>How <see cref="EngineProcess.StartIn"/> starts the engine beyond its config and arguments.</summary>
public sealed record EngineLaunch
{
    /// <summary>Set in the engine's environment (NOTIFY_SOCKET, WATCHDOG_USEC, ...).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    /// <summary>JOURNAL_STREAM set to stderr's device:inode, as systemd does when stderr is the journal.</summary>
    public bool JournalStream { get; init; }
    /// <summary>Return only once the engine is ready (control socket answers, MACs resolved); false: at once.</summary>
    public bool WaitReady { get; init; } = true;
}
