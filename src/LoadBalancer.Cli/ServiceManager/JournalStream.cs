using System.Globalization;
using LoadBalancer.Linux.Kernel;

namespace LoadBalancer.Cli.ServiceManager;

/// <summary>Whether stderr is the journal: systemd sets <c>JOURNAL_STREAM</c> to the device and inode numbers
/// (<c>DEV:INO</c>, decimal) of the stream it connected to the service's output (systemd.exec(5)). The variable alone
/// is not enough, since a child inherits it after its stderr was redirected elsewhere; only when it names the file
/// on descriptor 2 do lines go out with their <c>&lt;N&gt;</c> priority prefix (sd-daemon(3)).</summary>
internal static class JournalStream
{
    public const string Variable = "JOURNAL_STREAM";

    /// <summary>This process's stderr is the journal.</summary>
    public static bool IsStderr() => Names(Environment.GetEnvironmentVariable(Variable), FileIdentity.Of(2));

    /// <summary>Whether <paramref name="value"/> (JOURNAL_STREAM) names <paramref name="stream"/> (st_dev, st_ino).</summary>
    public static bool Names(string? value, (ulong Device, ulong Inode)? stream)
    {
        if (string.IsNullOrEmpty(value) || stream is not { } s) return false;
        var colon = value.IndexOf(':');
        return colon > 0
            && ulong.TryParse(value.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var device)
            && ulong.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
            && device == s.Device && inode == s.Inode;
    }
}
