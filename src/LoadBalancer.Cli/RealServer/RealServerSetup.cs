using System.Net;
using LoadBalancer.Cli.Configuration;

namespace LoadBalancer.Cli.RealServer;

/// <summary><c>lb realserver setup|teardown</c>: prepares a Linux host to be a direct-routing real
/// server. The VIP goes on a device that does not answer ARP for it (lo by default), and ARP is told
/// to answer only for addresses on the receiving interface (arp_ignore=1) and to use the best local
/// source address when asking (arp_announce=2), so the real server never claims the VIP on the
/// wire. An IPv6 VIP goes on the device as /128 without duplicate address detection and needs no sysctl: Linux
/// answers a neighbour solicitation only for addresses on the interface it arrives on, so a VIP on lo is never
/// claimed on the wire (the ARP sysctls are set only when an IPv4 VIP is given). Setup records what it changed in
/// a state file; teardown undoes exactly that.</summary>
public static class RealServerSetup
{
    public const string DefaultStatePath = "/run/lb/realserver.json";

    /// <summary>The state file for the network namespace we run in. Sysctls and addresses are per
    /// namespace while /run is not, so two namespaces on one host (a lab, containers) must not share
    /// one record: the namespace's inode number goes into the name.</summary>
    public static string StatePathForCurrentNamespace()
    {
        try
        {
            var target = new FileInfo("/proc/self/ns/net").LinkTarget; // "net:[4026531840]"
            var digits = target is null ? "" : new string(target.Where(char.IsAsciiDigit).ToArray());
            return digits.Length == 0 ? DefaultStatePath : $"/run/lb/realserver-net{digits}.json";
        }
        catch (IOException)
        {
            return DefaultStatePath;
        }
    }
    public const string DefaultDevice = "lo";

    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;

    /// <summary>The sysctls setup sets, in the order it sets them.</summary>
    internal static readonly (string Setting, string Value)[] ArpSettings = [("arp_ignore", "1"), ("arp_announce", "2")];

    private static bool DefaultIsPrivileged() => Environment.IsPrivilegedProcess;

    /// <summary>What setup and teardown check before touching anything: arguments, privileges, and a
    /// readable state file. Returns the exit code when one of them refuses, null to go on.</summary>
    private static int? Prepare(string verb, IReadOnlyList<string> vips, string dev, TextWriter output, INetworkControl? control,
        string? statePath, Func<bool>? isPrivileged, out List<IPAddress> addresses, out INetworkControl system,
        out RealServerStateStore store, out RealServerState state)
    {
        ArgumentNullException.ThrowIfNull(output);
        system = control ?? new SystemNetworkControl();
        store = null!;
        state = null!;
        if (!TryParseArguments(vips, dev, output, out addresses)) return ExitUsage;
        if (!(isPrivileged ?? DefaultIsPrivileged)())
        {
            output.WriteLine($"lb realserver {verb} needs root (CAP_NET_ADMIN) to change sysctls and addresses; nothing was changed");
            return ExitFailed;
        }
        store = new RealServerStateStore(statePath ?? StatePathForCurrentNamespace());
        if (!store.TryLoad(out var loaded, out var loadError))
        {
            output.WriteLine($"error: {loadError}; nothing was changed");
            return ExitFailed;
        }
        state = loaded;
        return null;
    }

    public static int Setup(IReadOnlyList<string> vips, string dev, TextWriter output,
        INetworkControl? control = null, string? statePath = null, Func<bool>? isPrivileged = null)
    {
        var refused = Prepare("setup", vips, dev, output, control, statePath, isPrivileged, out var addresses, out var system, out var store, out var state);
        if (refused is not null) return refused.Value;
        control = system;

        var changed = false;
        try
        {
            // Look at the device first: if it does not exist, fail before changing anything.
            var present = control.ListAddresses(dev);

            if (addresses.Any(a => !ConfigSyntax.IsIpv6(a)))
            {
                foreach (var iface in ArpInterfaces(control))
                    foreach (var (setting, value) in ArpSettings)
                        changed |= ApplySysctl(control, store, state, SysctlNames.Ipv4Conf(iface, setting), value, output);
            }
            else output.WriteLine("IPv6 VIPs only: no sysctl to set (neighbour discovery answers only for addresses on the receiving interface)");
            // No sysctl keeps an interface from answering neighbour solicitations for its own addresses.
            if (dev != DefaultDevice && addresses.Any(ConfigSyntax.IsIpv6))
                output.WriteLine($"note: an IPv6 VIP on {dev} is answered by neighbour discovery if {dev} is on the balancer's link; keep it on lo or a dummy device");

            foreach (var vip in addresses)
            {
                var host = InterfaceAddress.Host(vip);
                var existing = present.FirstOrDefault(a => a.Address.Equals(vip));
                if (existing.Address is not null)
                {
                    output.WriteLine(existing.IsHost
                        ? $"{host} already on {dev}"
                        : $"{vip} already on {dev} (as {existing}); not adding {host}");
                    continue;
                }
                // Write-ahead: record first, so an interruption cannot leave an address we forget.
                state.Addresses.Add(new AddedAddress { Device = dev, Address = host.ToString() });
                store.Save(state);
                try
                {
                    control.AddAddress(dev, host);
                }
                catch
                {
                    state.Addresses.RemoveAt(state.Addresses.Count - 1);
                    store.Save(state);
                    throw;
                }
                changed = true;
                output.WriteLine($"added {host} to {dev}");
            }
            return ExitOk;
        }
        catch (Exception e) when (e is NetworkControlException or RealServerStateException)
        {
            output.WriteLine($"error: {e.Message}");
            output.WriteLine(changed
                ? "setup stopped; the changes listed above were made and are recorded, 'lb realserver teardown' undoes them"
                : "setup stopped; nothing was changed");
            return ExitFailed;
        }
    }

    public static int Teardown(IReadOnlyList<string> vips, string dev, TextWriter output,
        INetworkControl? control = null, string? statePath = null, Func<bool>? isPrivileged = null)
    {
        var refused = Prepare("teardown", vips, dev, output, control, statePath, isPrivileged, out var addresses, out var system, out var store, out var state);
        if (refused is not null) return refused.Value;
        control = system;

        try
        {
            foreach (var vip in addresses)
            {
                var host = InterfaceAddress.Host(vip);
                var record = state.Addresses.FirstOrDefault(a => a.Device == dev && a.Address == host.ToString());
                if (record is null)
                {
                    output.WriteLine($"{host} on {dev} was not added by lb realserver setup; left alone");
                    continue;
                }
                if (control.ListAddresses(dev).Contains(host))
                {
                    control.RemoveAddress(dev, host);
                    output.WriteLine($"removed {host} from {dev}");
                }
                else output.WriteLine($"{host} is no longer on {dev}; nothing to remove");
                state.Addresses.Remove(record);
                store.Save(state);
            }

            // The ARP sysctls serve IPv4 VIPs only: the last of those going takes them along, IPv6 ones left or not.
            var ipv4Left = state.Addresses.Where(a => !a.IsIpv6).ToArray();
            if (state.Sysctls.Count > 0 && ipv4Left.Length > 0)
            {
                var remaining = string.Join(", ", ipv4Left.Select(a => $"{a.Address} on {a.Device}"));
                output.WriteLine($"arp sysctls kept: setup still manages {remaining}");
            }
            else
            {
                // Undo in the reverse order of setup.
                for (var i = state.Sysctls.Count - 1; i >= 0; i--)
                {
                    RestoreSysctl(control, state.Sysctls[i], output);
                    state.Sysctls.RemoveAt(i);
                    store.Save(state);
                }
            }
            return ExitOk;
        }
        catch (Exception e) when (e is NetworkControlException or RealServerStateException)
        {
            output.WriteLine($"error: {e.Message}");
            output.WriteLine("teardown stopped; what is not undone yet is still recorded, run teardown again once the problem is fixed");
            return ExitFailed;
        }
    }

    /// <summary>"all" plus every real interface (sorted), i.e. not lo, all or default.</summary>
    private static IEnumerable<string> ArpInterfaces(INetworkControl control) =>
        control.ListInterfaces()
            .Where(i => i is not ("lo" or "all" or "default"))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .Prepend("all");

    /// <summary>Sets one sysctl if needed; true if it changed it.</summary>
    private static bool ApplySysctl(INetworkControl control, RealServerStateStore store, RealServerState state,
        string name, string value, TextWriter output)
    {
        var current = control.ReadSysctl(name);
        if (current is null)
        {
            // The interface vanished between listing and reading; nothing to do for it.
            output.WriteLine($"{name} does not exist; skipped");
            return false;
        }
        if (current == value)
        {
            output.WriteLine($"{name} already {value}");
            return false;
        }
        if (IsStricter(name, current))
        {
            output.WriteLine($"{name} already {current} (at least as strict as {value}); left alone");
            return false;
        }

        // Write-ahead, keeping the first original if an earlier setup already recorded this sysctl (it
        // was reset behind our back since).
        var record = state.Sysctls.FirstOrDefault(s => s.Name == name);
        var added = record is null;
        record ??= new SysctlChange { Name = name, Original = current };
        record.Applied = value;
        if (added) state.Sysctls.Add(record);
        store.Save(state);
        try
        {
            control.WriteSysctl(name, value);
        }
        catch
        {
            if (added)
            {
                state.Sysctls.Remove(record);
                store.Save(state);
            }
            throw;
        }
        output.WriteLine($"set {name} {current} -> {value}");
        return true;
    }

    /// <summary>arp_ignore 2 (reply only if the sender is in the target address's subnet on the receiving
    /// interface) and 8 (never reply for local addresses) also keep the real server from answering for
    /// the VIP; lowering them to 1 would weaken what the operator chose.</summary>
    private static bool IsStricter(string name, string current) =>
        name.EndsWith(".arp_ignore", StringComparison.Ordinal) && current is "2" or "8";

    private static void RestoreSysctl(INetworkControl control, SysctlChange change, TextWriter output)
    {
        var current = control.ReadSysctl(change.Name);
        if (current is null)
            output.WriteLine($"{change.Name} no longer exists (interface removed); nothing to restore");
        else if (current == change.Original)
            output.WriteLine($"{change.Name} already {current}");
        else if (current != change.Applied)
            output.WriteLine($"{change.Name} is {current}, not the {change.Applied} setup set (changed since); left alone");
        else
        {
            control.WriteSysctl(change.Name, change.Original);
            output.WriteLine($"restored {change.Name} {current} -> {change.Original}");
        }
    }

    private static bool TryParseArguments(IReadOnlyList<string> vips, string dev, TextWriter output, out List<IPAddress> addresses)
    {
        addresses = new List<IPAddress>();
        var ok = true;
        if (vips is null || vips.Count == 0)
        {
            output.WriteLine("error: give at least one VIP with --vip ADDR");
            ok = false;
        }
        if (!ConfigSyntax.IsValidInterfaceName(dev))
        {
            output.WriteLine($"error: '{dev}' is not a valid interface name");
            ok = false;
        }
        foreach (var text in vips ?? [])
        {
            if (ConfigSyntax.TryParseAddress(text, out var vip))
            {
                if (ConfigSyntax.UnusableAddressReason(vip) is { } reason)
                {
                    output.WriteLine($"error: VIP {vip} {reason}");
                    ok = false;
                }
                else if (!addresses.Contains(vip)) addresses.Add(vip);
            }
            else
            {
                output.WriteLine(ConfigSyntax.HasScopeId(text)
                    ? $"error: VIP '{text}' has a scope id (%...); give the address without it"
                    : $"error: '{text}' is not an IPv4 or IPv6 address");
                ok = false;
            }
        }
        if (!ok) output.WriteLine("nothing was changed");
        return ok;
    }
}
