using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Health.Probes;

/// <summary><c>exec</c>: runs <c>/bin/sh -c</c> with the configured command, <c>{address}</c> and
/// <c>{port}</c> substituted; healthy on exit 0. On timeout (or when the checker stops) the whole process
/// tree is killed, so a stuck <c>curl</c> under the shell does not outlive its check.
/// <para>With <see cref="HealthCheckConfig.User"/> (<c>user:</c>) the command runs as that user, with its primary
/// group and its supplementary groups (as keepalived's <c>script_user</c>): util-linux's <c>setpriv</c> sets the
/// ids the config resolved, and execs the shell. That needs a checker running as root, as <c>lb run</c> started by
/// root is. A checker that is not root cannot change user: it runs every command as its own user, and <c>lb run</c>
/// and <c>lb healthcheck</c> refuse at start (and a reload refuses) a <c>user:</c> other than their own, so this
/// probe's own refusal below is only a last guard. Without <c>user:</c> the command runs as the checker's own user:
/// root inside <c>lb run</c> started by root (a check such as <c>ip netns exec</c> or <c>ipvsadm</c> needs that, and
/// any other should name an unprivileged user), the engine's user otherwise.</para>
/// <para>A checker that is not root still holds capabilities (<c>lb run</c> as a service user has CAP_NET_RAW and
/// CAP_NET_ADMIN as ambient capabilities, which an exec would pass on): its commands go through
/// <c>setpriv --inh-caps=-all --ambient-caps=-all</c>, so they run with none. The command never runs as root, and
/// never with the engine's capabilities, when the engine is not root.</para>
/// <para>Either way the command gets a minimal environment, never the checker's (which may hold secrets, and differs
/// between a shell and systemd): <c>PATH</c> = <see cref="SearchPath"/>, <c>HOME</c>, <c>USER</c> and
/// <c>LOGNAME</c> of the user it runs as, nothing else; and it starts in <c>/</c>, so that neither depends on how or
/// where the checker was started.</para></summary>
internal sealed class ExecProbe : IHealthProbe
{
    public static readonly ExecProbe Instance = new();

    public const string Shell = "/bin/sh";
    public const string Setpriv = "/usr/bin/setpriv";

    /// <summary>The PATH a command gets: login's and su's for root, the same for every user.</summary>
    public const string SearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>The checker's own user, for a command without <c>user:</c>. Read once: it does not change.</summary>
    private static readonly (string Name, string Home) CheckerUser =
        (Environment.UserName, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify));

    public Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken) =>
        ProbeTimeout.RunAsync(target, cancellationToken, token => RunAsync(target, token));

    /// <summary>The command with the placeholders filled in. Both values come from parsed addresses and
    /// ports (digits, dots, colons, hex), so substituting them into a shell command cannot inject anything.</summary>
    internal static string Command(HealthTarget target) => target.Check.Command
        .Replace("{address}", target.Address.ToString(), StringComparison.Ordinal)
        .Replace("{port}", target.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static async Task<ProbeResult> RunAsync(HealthTarget target, CancellationToken token)
    {
        if (string.IsNullOrWhiteSpace(target.Check.Command)) return new ProbeResult(false, "exec no command");
        var user = target.Check.User;
        if (user is not null && !Environment.IsPrivilegedProcess && user.Name != CheckerUser.Name)
            return new ProbeResult(false, $"exec cannot run as {user.Name}: the checker runs as {CheckerUser.Name}, not root");
        var info = StartInfo(target);

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return new ProbeResult(false, $"exec cannot start {info.FileName}: {e.Message}");
        }
        process.StandardInput.Close();
        // Drained and discarded so a chatty command never blocks on a full pipe. Only the exit is
        // awaited, not the end of these streams: a background child may hold them open for long.
        _ = DrainAsync(process.StandardOutput.BaseStream);
        _ = DrainAsync(process.StandardError.BaseStream);
        try
        {
            await process.WaitForExitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            throw;
        }
        return new ProbeResult(process.ExitCode == 0, $"exec exit {process.ExitCode}");
    }

    /// <summary>The shell with the command, through setpriv when it must change user or drop the checker's
    /// capabilities, with the minimal environment.</summary>
    internal static ProcessStartInfo StartInfo(HealthTarget target) => StartInfo(target, Environment.IsPrivilegedProcess);

    /// <summary>As the checker would start it, <paramref name="privileged"/> saying whether it runs as root.</summary>
    internal static ProcessStartInfo StartInfo(HealthTarget target, bool privileged)
    {
        var user = target.Check.User;
        var changeUser = user is not null && privileged;
        var info = new ProcessStartInfo(privileged && !changeUser ? Shell : Setpriv)
        {
            UseShellExecute = false,
            // Redirected so the command neither reads the balancer's stdin nor writes into its log.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        if (changeUser)
        {
            // Numeric ids, as the config resolved them; --init-groups sets the user's supplementary groups
            // (initgroups(3)) in place of root's.
            info.ArgumentList.Add($"--reuid={user!.Uid.ToString(CultureInfo.InvariantCulture)}");
            info.ArgumentList.Add($"--regid={user.Gid.ToString(CultureInfo.InvariantCulture)}");
            info.ArgumentList.Add("--init-groups");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(Shell);
        }
        else if (!privileged)
        {
            // Lowering the inheritable and clearing the ambient set needs no privilege; with both empty, an exec
            // of anything without file capabilities starts with no capabilities at all.
            info.ArgumentList.Add("--inh-caps=-all");
            info.ArgumentList.Add("--ambient-caps=-all");
            info.ArgumentList.Add("--");
            info.ArgumentList.Add(Shell);
        }
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Command(target));

        info.Environment.Clear();
        info.Environment["PATH"] = SearchPath;
        info.Environment["HOME"] = user?.Home ?? CheckerUser.Home;
        info.Environment["USER"] = user?.Name ?? CheckerUser.Name;
        info.Environment["LOGNAME"] = user?.Name ?? CheckerUser.Name;
        return info;
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the timeout and the kill.
        }
        catch (Win32Exception)
        {
            // Some descendant could not be signalled (it changed user); the rest were.
        }
    }

    private static async Task DrainAsync(Stream stream)
    {
        try
        {
            await stream.CopyToAsync(Stream.Null).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The process was disposed while its output was still open: nothing left to drain.
        }
    }
}
