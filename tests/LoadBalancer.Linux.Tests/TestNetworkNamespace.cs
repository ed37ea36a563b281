using System.Diagnostics;
using System.Runtime.ExceptionServices;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Tests;

/// <summary>A network namespace of the test's own, named with a per-run prefix, deleted on Dispose with everything in
/// it (veths die with their namespace, and an XDP link with its descriptor). Code that must open sockets or attach
/// programs inside it runs on a thread of its own that has entered it (<see cref="Run"/>): setns(2) moves only the
/// calling thread, and that thread ends with the code, so no pooled thread is left in the namespace.</summary>
internal sealed class TestNetworkNamespace : IDisposable
{
    public string Name { get; } = "lt" + Convert.ToHexString(Guid.NewGuid().ToByteArray())[..6].ToLowerInvariant() + "-xdp";

    private bool _created;

    public TestNetworkNamespace()
    {
        Ip("netns", "add", Name);
        _created = true;
    }

    /// <summary>`ip -n NAME ARGS...`, which must succeed.</summary>
    public void In(params string[] args) => Ip(["-n", Name, .. args]);

    /// <summary>A command run inside the namespace (ip netns exec), which must succeed.</summary>
    public string Exec(params string[] command) => Ip(["netns", "exec", Name, .. command]);

    public void Run(Action body, int timeoutMs = 60_000)
    {
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                var fd = LibC.open($"/run/netns/{Name}", LibC.O_RDONLY | LibC.O_CLOEXEC);
                if (fd < 0) throw NativeException.Last($"open(/run/netns/{Name})");
                try
                {
                    if (LibC.setns(fd, LibC.CLONE_NEWNET) != 0) throw NativeException.Last("setns(CLONE_NEWNET)");
                }
                finally
                {
                    LibC.close(fd);
                }
                body();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }) { IsBackground = true, Name = "in " + Name };
        thread.Start();
        if (!thread.Join(timeoutMs)) throw new TimeoutException($"the test's work in {Name} did not finish in {timeoutMs} ms");
        failure?.Throw();
    }

    private static string Ip(params string[] args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(30_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"ip {string.Join(' ', args)} did not finish");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"ip {string.Join(' ', args)} failed: {stderr.Result}");
        return stdout.Result;
    }

    public void Dispose()
    {
        if (_created) Ip("netns", "delete", Name);
        _created = false;
    }
}
