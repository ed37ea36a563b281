using System.Globalization;
using LoadBalancer.Cli.Configuration;
using LoadBalancer.Core.Model;
using LoadBalancer.Linux.Kernel;

namespace LoadBalancer.Cli.Commands;

/// <summary>What <c>lb run</c> needs of the process it runs in, checked before it touches the kernel: the two
/// capabilities every mode uses (it need not be root), and, when it is not root, exec checks that run as itself.</summary>
internal static class RunPrivileges
{
    /// <summary>Each capability with what the engine does with it. Every mode needs both: DR and NAT read and send
    /// through packet sockets and keep the kernel off the VIP's frames with an nftables ingress table; CLUSTERIP
    /// also re-injects through a TAP device and sets its rp_filter (net sysctls are writable with CAP_NET_ADMIN).</summary>
    private static readonly (int Capability, string Name, string Use)[] Needed =
    [
        (ProcessPrivileges.CapNetRaw, "CAP_NET_RAW", "packet sockets and ARP"),
        (ProcessPrivileges.CapNetAdmin, "CAP_NET_ADMIN", "nftables and the TAP device"),
    ];

    /// <summary>Null when the effective set <paramref name="effective"/> holds both; otherwise one line naming exactly
    /// the missing ones and what the process has of the two.</summary>
    public static string? Missing(ulong effective)
    {
        var missing = Needed.Where(n => !ProcessPrivileges.Has(effective, n.Capability)).ToArray();
        if (missing.Length == 0) return null;
        var held = Needed.Where(n => ProcessPrivileges.Has(effective, n.Capability)).Select(n => n.Name).ToArray();
        var needs = string.Join(" and ", missing.Select(m => $"{m.Name} (for {m.Use})"));
        var has = held.Length == 0 ? "it has neither" : $"it has {string.Join(" and ", held)} only";
        return $"lb run needs {needs}; {has} (run it as root, or give them to its user as ambient capabilities: " +
               "systemd's AmbientCapabilities=, setpriv --ambient-caps)";
    }

    /// <summary>Null when <paramref name="config"/> has no CLUSTERIP service or the TAP device's node could be opened
    /// (<paramref name="cannotOpenTun"/> null); otherwise one line saying what the engine's user lacks.</summary>
    public static string? TunAccess(BalancerConfig config, Func<string?> cannotOpenTun)
    {
        if (!config.Services.Any(s => s.Mode == ForwardingMode.ClusterIp)) return null;
        return cannotOpenTun() is { } why
            ? $"lb run needs read and write access to /dev/net/tun for the CLUSTERIP TAP device ({why}); udev makes it mode 0666, " +
              "as Debian ships it: without udev, chmod 0666 /dev/net/tun, or give it to a group of the engine's user"
            : null;
    }

    /// <summary>The exec checks an engine running as <paramref name="euid"/> cannot run as configured: a
    /// <c>user:</c> other than its own, when it is not root (it cannot change user), each at the <c>user:</c> line.</summary>
    public static IReadOnlyList<ConfigError> UnreachableUsers(BalancerConfig config, string file, uint euid, string engineUser)
    {
        if (euid == 0) return [];
        var errors = new List<ConfigError>();
        foreach (var service in config.Services)
        {
            if (service.Health is not { Type: HealthCheckType.Exec, User: { } user } health || user.Uid == euid) continue;
            errors.Add(new ConfigError(file, health.UserLine, string.Create(CultureInfo.InvariantCulture,
                $"service {service.Name}: health user '{user.Name}' (uid {user.Uid}) cannot be used: the engine runs as {engineUser} " +
                $"(uid {euid}), not root, and cannot change user; remove user: (the check then runs as {engineUser}) or run the engine as root")));
        }
        return errors;
    }
}
