using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Packaging;

/// <summary><c>packaging/build-deb.sh</c> end to end: the package's metadata and files, the extracted binary where
/// no .NET is installed, its example config, the unit as installed, the generated man page and the postinst. The
/// sandboxes (<c>unshare --mount</c>) change nothing outside themselves: what they mount goes with them.</summary>
public sealed partial class PackageTests(DebPackage package, ITestOutputHelper output) : IClassFixture<DebPackage>
{
    [LabFact]
    public void Build_PrintsDebPathLast_NamedAfterLbVersion()
    {
        output.WriteLine($"build-deb.sh took {package.BuildTime.TotalSeconds:F0} s; {package.Deb}: {new FileInfo(package.Deb).Length / 1024} KiB");
        var version = FrameworkDependentVersion();
        Assert.Equal($"lb_{version}_amd64.deb", Path.GetFileName(package.Deb));
        Assert.True(File.Exists(package.Deb), package.Deb);
        Assert.Equal(version, Field("Version"));
        Assert.Equal("amd64", Field("Architecture"));
    }

    [LabFact]
    public void Info_ListsTheExampleConfigAsConffile_AndTheRuntimeDependencies()
    {
        var info = Run("dpkg-deb", "--info", package.Deb);
        Assert.Matches(@"(?m)^\s+\d+ bytes,\s+\d+ lines\s+conffiles\s*$", info);
        Assert.Equal(["/etc/lb/lb.yaml"], Run("dpkg-deb", "--info", package.Deb, "conffiles").Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var depends = Field("Depends").Split(',', StringSplitOptions.TrimEntries).Select(d => d.Split(' ')[0]).ToArray();
        foreach (var needed in new[] { "libc6", "libgcc-s1", "libstdc++6", "libssl3", "nftables", "iproute2" }) Assert.Contains(needed, depends);
    }

    [LabFact]
    public void Contents_HoldBinaryUnitConfigAndManPage_OwnedByRoot()
    {
        var contents = Run("dpkg-deb", "--contents", package.Deb);
        Assert.Matches(@"(?m)^-rwxr-xr-x root/root\s+\d+ \S+ \S+ \./usr/bin/lb$", contents);
        foreach (var file in new[] { "./lib/systemd/system/lb.service", "./etc/lb/lb.yaml", "./usr/share/man/man8/lb.8.gz" })
            Assert.Matches($@"(?m)^-rw-r--r-- root/root\s+\d+ \S+ \S+ {Regex.Escape(file)}$", contents);
        foreach (var script in new[] { "postinst", "prerm", "postrm" })
            Assert.True(File.Exists(Path.Combine(package.Control, script)), script);
    }

    [LabFact]
    public void ExtractedLb_WhereNoDotnetIsInstalled_PrintsTheFrameworkDependentVersion()
    {
        var empty = Directory.CreateDirectory(Path.Combine(package.Dir, "empty")).FullName;
        var hidden = DotnetInstallDirectories().ToArray();
        output.WriteLine("hidden: " + string.Join(' ', hidden));
        Assert.NotEmpty(hidden);

        // Every .NET install under an empty directory, a bare environment (no DOTNET_*), PATH without a dotnet of
        // its own: `dotnet --info` must fail there, and lb must not.
        var script = string.Join('\n', hidden.Select(d => $"mount --bind {Shell.Quote(empty)} {Shell.Quote(d)}")) + $"""

            dotnet --info >/dev/null 2>&1 && rc=0 || rc=$?
            echo "dotnet --info exit $rc"
            exec {Shell.Quote(package.Lb)} version
            """;
        var r = Sandbox(script);
        output.WriteLine(r.Output);
        Assert.Equal(0, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^dotnet --info exit [1-9]\d*$", lines[0]);
        Assert.Equal($"lb {FrameworkDependentVersion()}", lines[1]);
    }

    [LabFact]
    public void ExtractedExampleConfig_PassesExtractedCheck()
    {
        var r = Shell.Run(package.Lb, ["check", "--config", Path.Combine(package.Root, "etc", "lb", "lb.yaml")]);
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Equal("ok", r.Stdout.Trim());
        Assert.Contains("control_socket: /run/lb/lb.sock", File.ReadAllText(Path.Combine(package.Root, "etc", "lb", "lb.yaml")));
    }

    [LabFact]
    public void Unit_AsInstalled_SystemdAnalyzeVerifyPrintsNothing_AndWouldNameAMissingCommand()
    {
        // The package's tree plus this machine's units (the targets lb.service is ordered against), so that
        // verify looks for /usr/bin/lb and man:lb(8) where the package puts them.
        var root = Path.Combine(package.Dir, "verify-root");
        Copy(package.Root, root);
        Copy("/lib/systemd/system", Path.Combine(root, "lib", "systemd", "system"));
        var verify = $"MANPATH={Shell.Quote(Path.Combine(root, "usr", "share", "man"))} systemd-analyze verify --root={Shell.Quote(root)} " +
                     Shell.Quote(Path.Combine(root, "lib", "systemd", "system", "lb.service")) + " 2>&1";

        var r = Shell.Bash(verify);
        output.WriteLine(r.Output);
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.DoesNotContain("lb.service", r.Output);

        // The same check with the binary gone: it does look at the commands.
        File.Delete(Path.Combine(root, "usr", "bin", "lb"));
        var missing = Shell.Bash(verify);
        Assert.Contains("lb.service: Command /usr/bin/lb is not executable", missing.Output);
    }

    [LabFact]
    public void ManPage_RendersWithoutWarnings_AndHasASectionForEveryCommandInTheHelp()
    {
        var page = Path.Combine(package.Root, "usr", "share", "man", "man8", "lb.8.gz");
        var r = Shell.Bash($"MANWIDTH=100 man --warnings -E UTF-8 -P cat -l {Shell.Quote(page)}");
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Equal("", r.Stderr);
        var text = Overstrike().Replace(r.Stdout, "");

        var top = Commands([]);
        // Guards the help parser: the commands this page has always had (more, such as reload, join by themselves).
        Assert.Superset(new HashSet<string>(["run", "check", "status", "backend", "ha", "healthcheck", "realserver", "version"]), top.ToHashSet());
        var paths = top.SelectMany(c => Commands([c]).Select(s => $"{c} {s}").Prepend(c)).ToArray();
        output.WriteLine("commands: " + string.Join(", ", paths));
        foreach (var path in paths) Assert.Matches($@"(?m)^   lb {Regex.Escape(path)}$", text);
        Assert.Contains($"lb {FrameworkDependentVersion()}", text);
    }

    [LabFact]
    public void Postinst_CreatesTheSystemUserOnce_WithAdduserOrUseradd()
    {
        var postinst = Path.Combine(package.Control, "postinst");
        var etc = Directory.CreateDirectory(Path.Combine(package.Dir, "etc")).FullName;
        var useraddOnly = Directory.CreateDirectory(Path.Combine(package.Dir, "useradd-only")).FullName;
        File.CreateSymbolicLink(Path.Combine(useraddOnly, "useradd"), "/usr/sbin/useradd");

        foreach (var path in new[] { "/usr/sbin:/usr/bin:/sbin:/bin", $"{useraddOnly}:/usr/bin:/bin" })
        {
            // A copy of /etc on a tmpfs of the sandbox, without any lb account, over /etc.
            var r = Sandbox($"""
                mount -t tmpfs tmpfs {Shell.Quote(etc)}
                cp -a /etc/. {Shell.Quote(etc)}/
                mount --bind {Shell.Quote(etc)} /etc
                for f in passwd group shadow gshadow; do [ -e /etc/$f ] && sed -i '/^lb:/d' /etc/$f; done
                export PATH={path}
                echo "adduser: $(command -v adduser || echo none)"
                sh {Shell.Quote(postinst)} configure ''
                first=$(cat /etc/passwd /etc/group | md5sum)
                sh {Shell.Quote(postinst)} configure ''
                [ "$first" = "$(cat /etc/passwd /etc/group | md5sum)" ] && echo "second run changed nothing"
                getent passwd lb
                getent group lb
                """);
            output.WriteLine(r.Output);
            Assert.True(r.ExitCode == 0, r.Output);
            Assert.Contains(path.StartsWith(useraddOnly, StringComparison.Ordinal) ? "adduser: none" : "adduser: /usr/sbin/adduser", r.Stdout);
            Assert.Contains("second run changed nothing", r.Stdout);
            var user = Regex.Match(r.Stdout, @"(?m)^lb:[^:]*:(\d+):(\d+):[^:]*:/nonexistent:/usr/sbin/nologin$");
            Assert.True(user.Success, r.Stdout);
            Assert.True(int.Parse(user.Groups[1].Value, CultureInfo.InvariantCulture) < 1000, "not a system uid: " + user.Value);
            Assert.Matches($@"(?m)^lb:[^:]*:{user.Groups[2].Value}:", r.Stdout);
        }
    }

    /// <summary>Runs a bash script in a mount namespace of its own with a bare environment.</summary>
    private static CommandResult Sandbox(string script) =>
        Shell.Run("unshare", ["--mount", "--propagation", "private", "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent",
            "bash", "-euc", script]);

    /// <summary>Where a .NET may be installed: the runtime running this test, the `dotnet` on PATH, DOTNET_ROOT and the
    /// usual places; those that exist.</summary>
    private static IEnumerable<string> DotnetInstallDirectories()
    {
        var candidates = new List<string?>
        {
            Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..")),
            Environment.GetEnvironmentVariable("DOTNET_ROOT"),
            "/usr/share/dotnet", "/usr/lib/dotnet", "/usr/local/share/dotnet", "/opt/dotnet", "/etc/dotnet",
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet"),
        };
        var onPath = Shell.Bash("readlink -f \"$(command -v dotnet)\"").Stdout.Trim();
        if (onPath.Length > 0) candidates.Add(Path.GetDirectoryName(onPath));
        return candidates.Where(d => !string.IsNullOrEmpty(d) && Directory.Exists(d)).Select(d => Path.GetFullPath(d!).TrimEnd('/')).Distinct();
    }

    /// <summary>The commands that <c>lb WORDS... --help</c> lists (the first word of each line under "Commands:").</summary>
    private string[] Commands(string[] words)
    {
        var help = Shell.Run(package.Lb, [.. words, "--help"]);
        Assert.True(help.ExitCode == 0, help.Output);
        return help.Stdout.Split('\n').SkipWhile(l => l.TrimEnd() != "Commands:").Skip(1)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).Select(l => l.Trim().Split(' ')[0]).ToArray();
    }

    private static string FrameworkDependentVersion()
    {
        var r = Shell.Run("dotnet", [LabEnvironment.LbDll, "version"]);
        Assert.True(r.ExitCode == 0, r.Output);
        return r.Stdout.Trim()["lb ".Length..];
    }

    private string Field(string name) => Run("dpkg-deb", "--field", package.Deb, name).Trim();

    private static string Run(string file, params string[] args)
    {
        var r = Shell.Run(file, args);
        Assert.True(r.ExitCode == 0, $"{file} {string.Join(' ', args)}:\n{r.Output}");
        return r.Stdout;
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        var r = Shell.Run("cp", ["-a", "-n", from + "/.", to]);
        Assert.True(r.ExitCode == 0, r.Output);
    }

    /// <summary>Bold and underline as terminals once printed them (X backspace X), should man leave any in.</summary>
    [GeneratedRegex(".\b")]
    private static partial Regex Overstrike();
}
