using System.Globalization;
using System.Text.RegularExpressions;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.LeastPrivilege;

/// <summary>A user made for one test run: its name, ids and a home of its own (the dotnet host wants a writable HOME).</summary>
public sealed record Account(string Name, uint Uid, uint Gid, string Home);

/// <summary>Users and groups made for one run with per-run unique names, and deleted again on dispose, also after a
/// failed test: the engine's service user, a monitoring user in <c>control_group</c> and an operator also in
/// <c>control_admin_group</c>. The engine's user is in <c>control_group</c> too (it gives the socket to that group, which
/// a process without CAP_CHOWN may do only for a group it is in). The build is copied to a directory every user can
/// read: the repository may sit below a home that is mode 0700.</summary>
public sealed class ServiceAccounts : IDisposable
{
    private readonly List<string> _users = new();
    private readonly List<string> _groups = new();
    private readonly DirectoryInfo _dir;

    public ServiceAccounts()
    {
        var id = Convert.ToHexString(Guid.NewGuid().ToByteArray())[..6].ToLowerInvariant();
        _dir = Directory.CreateTempSubdirectory("lb-priv-");
        try
        {
            File.SetUnixFileMode(_dir.FullName, (UnixFileMode)0b111_101_101);
            ControlGroup = AddGroup($"lbc{id}");
            AdminGroup = AddGroup($"lba{id}");
            Engine = AddUser($"lbe{id}", ControlGroup);
            Monitor = AddUser($"lbm{id}", ControlGroup);
            Admin = AddUser($"lbo{id}", ControlGroup, AdminGroup);
            Copy(Path.GetDirectoryName(LabEnvironment.LbDll)!, Path.Combine(_dir.FullName, "lb"));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string ControlGroup { get; }
    public string AdminGroup { get; }
    public Account Engine { get; }
    public Account Monitor { get; }
    public Account Admin { get; }
    public string LbDll => Path.Combine(_dir.FullName, "lb", "lb.dll");

    /// <summary>The shell prefix that starts what follows as <paramref name="user"/> holding only
    /// <paramref name="capabilities"/> (setpriv's names, e.g. net_raw,net_admin), as systemd's <c>User=</c> with
    /// <c>AmbientCapabilities=</c> and <c>CapabilityBoundingSet=</c> would; none: an ordinary user's process.</summary>
    public static string Launcher(Account user, params string[] capabilities)
    {
        var caps = string.Concat(capabilities.Select(c => ",+" + c));
        var ids = string.Create(CultureInfo.InvariantCulture, $"--reuid={user.Uid} --regid={user.Gid} --init-groups");
        var privileges = capabilities.Length == 0 ? "" : $" --inh-caps=-all{caps} --ambient-caps=-all{caps} --bounding-set=-all{caps}";
        return $"setpriv {ids}{privileges} -- env HOME={Shell.Quote(user.Home)} DOTNET_CLI_HOME={Shell.Quote(user.Home)} DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1";
    }

    /// <summary><c>lb ARGS</c> as <paramref name="user"/> (no capabilities), in namespace <paramref name="ns"/>.</summary>
    public CommandResult Lb(Account user, string ns, string args) =>
        Shell.InNamespace(ns, ["bash", "-c", $"exec {Launcher(user)} dotnet {Shell.Quote(LbDll)} {args} < /dev/null"], TimeSpan.FromSeconds(30));

    /// <summary>The engine as the service user with CAP_NET_RAW and CAP_NET_ADMIN only.</summary>
    public EngineProcess StartEngine(NamespaceLab lab, string ns, string config, string socket) =>
        EngineProcess.StartIn(lab, ns, config, socket, launcher: Launcher(Engine, "net_raw", "net_admin"), lbDll: LbDll);

    /// <summary><c>lb run</c> as the service user with just <paramref name="capabilities"/>, in namespace
    /// <paramref name="ns"/>, for a run expected to exit by itself (bounded).</summary>
    public CommandResult RunEngine(string ns, string config, params string[] capabilities) =>
        Shell.InNamespace(ns, ["bash", "-c",
            $"exec {Launcher(Engine, capabilities)} dotnet {Shell.Quote(LbDll)} run --config {Shell.Quote(config)} < /dev/null"], TimeSpan.FromSeconds(30));

    /// <summary>A directory for the control socket that the engine's user owns (what systemd's
    /// <c>RuntimeDirectory=lb</c> makes), below the lab's.</summary>
    public string RuntimeDirectory(NamespaceLab lab, string name)
    {
        var dir = Path.Combine(lab.Dir, name);
        Directory.CreateDirectory(dir);
        Run("chown", $"{Engine.Uid}:{Engine.Gid}", dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        return dir;
    }

    /// <summary>A lab config rewritten for the non-root engine: its control socket in <paramref name="socket"/>, the
    /// two control groups set, <paramref name="extra"/> inserted after the first service's <c>mode:</c> line.</summary>
    public string Rewrite(string config, string socket, string extra = "")
    {
        var yaml = Regex.Replace(File.ReadAllText(config), "^control_socket: .*$", $"control_socket: {socket}", RegexOptions.Multiline);
        if (extra.Length > 0)
        {
            var mode = Regex.Match(yaml, "^    mode: .*\n", RegexOptions.Multiline);
            yaml = yaml.Insert(mode.Index + mode.Length, extra);
        }
        var path = Path.ChangeExtension(config, ".nonroot.yaml");
        File.WriteAllText(path, $"control_group: {ControlGroup}\ncontrol_admin_group: {AdminGroup}\n{yaml}");
        return path;
    }

    private string AddGroup(string name)
    {
        Run("groupadd", name);
        _groups.Add(name);
        return name;
    }

    private Account AddUser(string name, params string[] groups)
    {
        var home = Path.Combine(_dir.FullName, name);
        Run("useradd", "--no-create-home", "--user-group", "--home-dir", home, "--shell", "/usr/sbin/nologin", "--groups", string.Join(',', groups), name);
        _users.Add(name);
        Directory.CreateDirectory(home);
        var uid = uint.Parse(Run("id", "-u", name).Trim(), CultureInfo.InvariantCulture);
        var gid = uint.Parse(Run("id", "-g", name).Trim(), CultureInfo.InvariantCulture);
        Run("chown", $"{uid}:{gid}", home);
        return new Account(name, uid, gid, home);
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        Run("chmod", "-R", "a+rX", to);
    }

    private static string Run(string file, params string[] args)
    {
        var r = Shell.Run(file, args, TimeSpan.FromSeconds(30));
        if (r.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {r.Output}");
        return r.Stdout;
    }

    public void Dispose()
    {
        // userdel also removes each user's own group (USERGROUPS_ENAB); the shared groups go after their members.
        foreach (var user in _users) Shell.Run("userdel", [user], TimeSpan.FromSeconds(30));
        foreach (var group in _groups) Shell.Run("groupdel", [group], TimeSpan.FromSeconds(30));
        try
        {
            _dir.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
