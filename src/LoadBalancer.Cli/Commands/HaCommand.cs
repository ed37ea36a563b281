using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb ha master|backup|fault</c>: what keepalived's <c>notify_master</c>, <c>notify_backup</c> and
/// <c>notify_fault</c> call to hand the running engine its role; <c>lb ha check</c>: the verdict for a
/// <c>vrrp_script</c>, so a master whose engine died or lost every backend hands over.</summary>
internal static class HaCommand
{
    public static Command Build()
    {
        var ha = new Command("ha", "The engine's role in an HA pair, as keepalived decides it");
        ha.Subcommands.Add(Role("master", "Claim the VIPs: answer ARP for them and announce them by gratuitous ARP (keepalived's notify_master)"));
        ha.Subcommands.Add(Role("backup", "Leave the VIPs to the master: answer no ARP for them, keep forwarding what arrives (notify_backup)"));
        ha.Subcommands.Add(Role("fault", "As backup, shown as fault (notify_fault)"));
        var (config, socket) = EngineSocket.Options();
        var check = new Command("check", "Exit 0 when the engine answers and every service has a usable backend, else 1 with the reason (for a vrrp_script)") { config, socket };
        check.SetAction(r => Check(r.GetValue(config), r.GetValue(socket), Console.Out, Console.Error));
        ha.Subcommands.Add(check);
        return ha;
    }

    private static Command Role(string role, string description)
    {
        var (config, socket) = EngineSocket.Options();
        var command = new Command(role, description) { config, socket };
        command.SetAction(r => EngineSocket.Send(r.GetValue(config), r.GetValue(socket), $"ha {role} by {Caller()}", Console.Out, Console.Error));
        return command;
    }

    public static int Check(string? configPath, string? socketPath, TextWriter stdout, TextWriter stderr)
    {
        var code = EngineSocket.Ask(configPath, socketPath, "status", stderr, out var response, unreachable: "engine not answering at");
        if (code != 0) return code;
        var problem = Verdict(response, out var summary);
        if (problem is not null)
        {
            stderr.WriteLine(problem);
            return 1;
        }
        stdout.WriteLine(summary);
        return 0;
    }

    /// <summary>Null when every service of the status document has a backend that takes new flows (state
    /// <c>active</c>; a backup counts once it has been promoted), else the first service that has none and why.</summary>
    internal static string? Verdict(string statusJson, out string summary)
    {
        using var doc = JsonDocument.Parse(statusJson);
        var services = 0;
        foreach (var s in doc.RootElement.GetProperty("services").EnumerateArray())
        {
            services++;
            var states = new SortedDictionary<string, int>(StringComparer.Ordinal);
            var usable = false;
            foreach (var b in s.GetProperty("backends").EnumerateArray())
            {
                var state = b.GetProperty("state").GetString() ?? "";
                usable |= state == "active";
                states[state] = states.GetValueOrDefault(state) + 1;
            }
            if (!usable)
            {
                summary = "";
                var why = states.Count == 0 ? "none configured" : string.Join(", ", states.Select(p => $"{p.Value} {p.Key}"));
                return $"service {s.GetProperty("name").GetString()} has no usable backend ({why})";
            }
        }
        var role = doc.RootElement.TryGetProperty("ha", out var ha) ? $", role {ha.GetProperty("role").GetString()}" : "";
        summary = $"ok: {services} service{(services == 1 ? "" : "s")}, each with a usable backend{role}";
        return null;
    }

    /// <summary>Who is asking, for the engine's log: the first ancestor that is not a shell (keepalived runs
    /// notify scripts through /bin/sh), as "NAME (pid N)".</summary>
    internal static string Caller()
    {
        TryStat(Environment.ProcessId, out var pid, out _);
        var direct = pid;
        for (var depth = 0; depth < 4 && pid > 0; depth++)
        {
            if (!TryStat(pid, out var parent, out var name)) break;
            if (name is not ("sh" or "bash" or "dash" or "timeout" or "env")) return $"{name} (pid {pid.ToString(CultureInfo.InvariantCulture)})";
            pid = parent;
        }
        return $"pid {direct.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>A process's command name and its parent, from /proc/PID/stat ("pid (comm) state ppid ...").</summary>
    private static bool TryStat(int pid, out int parent, out string name)
    {
        parent = 0;
        name = "";
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var open = stat.IndexOf('(');
            var close = stat.LastIndexOf(')');
            if (open < 0 || close < open) return false;
            name = stat[(open + 1)..close];
            var fields = stat[(close + 2)..].Split(' ');
            return fields.Length > 1 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out parent) && parent > 0;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
