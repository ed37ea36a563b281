using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Cli.Configuration;

/// <summary>The users an exec check may run as (<c>user:</c>) and the groups the control socket is given to
/// (<c>control_group:</c>, <c>control_admin_group:</c>), looked up as getpwnam(3) and getgrnam(3) do, through
/// <c>getent passwd NAME</c> and <c>getent group NAME</c>: that follows nsswitch.conf (files, LDAP, systemd's users)
/// where reading /etc/passwd would not, and keeps native calls out of this project (they live in LoadBalancer.Linux).</summary>
internal static class UserDatabase
{
    public const string Getent = "getent";

    /// <summary>Long enough for a slow directory service; a lookup that hangs must not hang <c>lb check</c>.</summary>
    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Null and the user, or what is wrong (one line, for <c>lb check</c>).</summary>
    public static string? Find(string name, out ExecUser? user)
    {
        user = null;
        // name:password:uid:gid:gecos:home:shell
        if (Lookup("user", "passwd", name, out var fields) is { } problem) return problem;
        if (fields.Length != 7
            || !uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            || !uint.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
            return $"user {ConfigReader.Quoted(name)}: '{Getent} passwd' gave an entry that is not name:x:uid:gid:gecos:home:shell";
        // login(1) and su(1) start a user without a home directory in /.
        user = new ExecUser(fields[0], uid, gid, fields[5].Length > 0 ? fields[5] : "/");
        return null;
    }

    /// <summary>Null and the group, or what is wrong (one line, for <c>lb check</c>).</summary>
    public static string? FindGroup(string name, out UnixGroup? group)
    {
        group = null;
        // name:password:gid:members
        if (Lookup("group", "group", name, out var fields) is { } problem) return problem;
        if (fields.Length != 4 || !uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
            return $"group {ConfigReader.Quoted(name)}: '{Getent} group' gave an entry that is not name:x:gid:members";
        group = new UnixGroup(fields[0], gid);
        return null;
    }

    /// <summary>The first entry <c>getent DATABASE NAME</c> prints, split at ':', or what went wrong.</summary>
    private static string? Lookup(string what, string database, string name, out string[] fields)
    {
        fields = [];
        if (!IsUserName(name))
            return $"{what} {ConfigReader.Quoted(name)} is not a {what} name (up to 32 letters, digits, '.', '_' or '-', not starting with '-')";

        var info = new ProcessStartInfo(Getent)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(database);
        info.ArgumentList.Add(name);
        string output;
        int exitCode;
        try
        {
            using var process = Process.Start(info)!;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(LookupTimeout))
            {
                process.Kill(entireProcessTree: true);
                return $"{what} {ConfigReader.Quoted(name)}: '{Getent} {database}' did not answer within {LookupTimeout.TotalSeconds:0} s";
            }
            process.WaitForExit();
            output = stdout.GetAwaiter().GetResult();
            exitCode = process.ExitCode;
        }
        catch (Win32Exception e)
        {
            return $"{what} {ConfigReader.Quoted(name)} cannot be looked up: cannot run {Getent}: {e.Message}";
        }

        // getent's exit codes: 0 found, 2 no such key; anything else is a failed lookup.
        if (exitCode == 2) return $"{what} {ConfigReader.Quoted(name)} does not exist";
        if (exitCode != 0) return $"{what} {ConfigReader.Quoted(name)} cannot be looked up ('{Getent} {database}' exited with {exitCode})";
        fields = output.Split('\n', 2)[0].Split(':');
        return null;
    }

    /// <summary>POSIX's portable user names (letters, digits, '.', '_', '-', no leading '-'), with the trailing '$'
    /// of Samba's machine accounts; anything else is refused before it reaches getent, which would take a leading
    /// '-' as an option. Group names follow the same rules (useradd and groupadd check both alike).</summary>
    public static bool IsUserName(string name)
    {
        if (name.Length is 0 or > 32 || name[0] == '-') return false;
        var body = name.EndsWith('$') ? name.AsSpan(0, name.Length - 1) : name.AsSpan();
        foreach (var c in body)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')) return false;
        return body.Length > 0;
    }
}
