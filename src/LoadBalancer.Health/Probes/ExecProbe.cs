using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace LoadBalancer.Health.Probes;

/// <summary><c>exec</c>: runs <c>/bin/sh -c</c> with the configured command, <c>{address}</c> and
/// <c>{port}</c> substituted; healthy on exit 0. On timeout (or when the checker stops) the whole process
/// tree is killed, so a stuck <c>curl</c> under the shell does not outlive its check.</summary>
internal sealed class ExecProbe : IHealthProbe
{
    public static readonly ExecProbe Instance = new();

    public const string Shell = "/bin/sh";

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
        var info = new ProcessStartInfo(Shell)
        {
            UseShellExecute = false,
            // Redirected so the command neither reads the balancer's stdin nor writes into its log.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Command(target));

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return new ProbeResult(false, $"exec cannot start {Shell}: {e.Message}");
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
