namespace LoadBalancer.Cli.Configuration;

/// <summary>The HA sync secret: a file holding 64 hex characters (a 32-byte HMAC-SHA256 key), surrounding
/// whitespace ignored, readable by its owner alone, as OpenSSH insists for private keys: a key others can read
/// lets them forge the flow state the pair installs.</summary>
public static class SyncKeyFile
{
    public const int KeyBytes = 32;

    /// <summary>Null and the key, or what is wrong with the file (one line, for <c>lb check</c>).</summary>
    public static string? Read(string path, out byte[]? key)
    {
        key = null;
        if (!Path.IsPathFullyQualified(path)) return "must be an absolute path";
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) return "no such file";
            if ((info.UnixFileMode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
                return $"must not be readable or writable by group or others (mode {Mode(info.UnixFileMode)}; chmod 600 it)";
            // A FIFO would block the read until something writes to it, and a device need not end.
            if (Linux.Kernel.FileKind.Of(path) is { } kind && kind != "regular file") return $"is a {kind}, not a regular file";
            if (info.Length == 0) return "is empty";
            if (info.Length > 4096) return "is too long for a key (64 hex characters)";
            text = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot be read ({e.Message})";
        }
        if (text.Length != KeyBytes * 2 || text.AsSpan().ContainsAnyExcept("0123456789abcdefABCDEF"))
            return $"must hold exactly {KeyBytes * 2} hex characters (a {KeyBytes}-byte key; e.g. from 'openssl rand -hex {KeyBytes}')";
        key = Convert.FromHexString(text);
        return null;
    }

    private static string Mode(UnixFileMode mode) => Convert.ToString((int)mode & 0x1FF, 8).PadLeft(4, '0');
}
