using System.Net.Sockets;
using System.Text;

namespace LoadBalancer.Health.Probes;

/// <summary>What every probe shares: the bound on its duration and the short texts of its details.</summary>
internal static class ProbeTimeout
{
    /// <summary>Runs <paramref name="probe"/> with a token that fires after the target's timeout, and turns
    /// that firing into one failed result. The caller's own cancellation still throws.
    /// The probes run on the real clock (they wait on sockets and processes); the checker adds its own
    /// bound on its injected clock for a probe that ignores the token.</summary>
    public static async Task<ProbeResult> RunAsync(
        HealthTarget target, CancellationToken cancellationToken, Func<CancellationToken, Task<ProbeResult>> probe)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(target.Check.Timeout);
        try
        {
            return await probe(timeout.Token).ConfigureAwait(false);
        }
        // A cancelled socket or stream does not always throw OperationCanceledException (an aborted
        // operation can surface as a SocketException or IOException), so any exception after our
        // deadline passed is the deadline's doing.
        catch (Exception) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return TimedOut(target.Check.Timeout);
        }
    }

    public static ProbeResult TimedOut(TimeSpan timeout) => new(false, $"timeout after {(long)timeout.TotalMilliseconds} ms");
}

internal static class ProbeText
{
    /// <summary>A socket error as a detail word: <c>refused</c>, <c>reset</c>, <c>host unreachable</c>, ...</summary>
    public static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "refused",
        SocketError.ConnectionReset => "reset",
        SocketError.ConnectionAborted => "aborted",
        SocketError.HostUnreachable => "host unreachable",
        SocketError.NetworkUnreachable => "network unreachable",
        SocketError.NetworkDown => "network down",
        SocketError.TimedOut => "timed out",
        SocketError.AddressNotAvailable => "address not available",
        SocketError.Shutdown => "shut down",
        _ => error.ToString().ToLowerInvariant(),
    };

    /// <summary>Text that came from the backend, made safe and short for a detail: control characters
    /// become '.', and anything past <paramref name="max"/> characters is cut.</summary>
    public static string Quote(string text, int max = 40)
    {
        var builder = new StringBuilder(Math.Min(text.Length, max + 3));
        foreach (var c in text)
        {
            if (builder.Length == max)
            {
                builder.Append("...");
                break;
            }
            builder.Append(char.IsControl(c) ? '.' : c);
        }
        return builder.ToString();
    }
}
