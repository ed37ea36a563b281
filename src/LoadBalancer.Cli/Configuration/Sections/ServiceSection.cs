using System.Net;
using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration.Sections;

/// <summary>One item of <c>services</c>: its endpoint, mode and interfaces, and the keys that apply only to some
/// modes (refused, with their values unread, under another).</summary>
internal sealed class ServiceSection(ConfigReader r)
{
    private static readonly string[] Keys = ["name", "vip", "port", "protocol", "mode", "interface", "backend_interface", "backends",
                                             "on_backend_down", "when_all_down", "scheduler", "health", "gateway", "timeouts", "tcp_pickup", "cluster",
                                             "arp", "announce", "notify"];

    /// <summary>Service keys that only mode nat uses; with another mode they are errors (their values
    /// are not read), as a backend's 'port' is.</summary>
    private static readonly string[] NatOnlyKeys = ["gateway", "timeouts", "tcp_pickup"];

    /// <summary>Service keys that mode clusterip does not use (besides the NAT-only ones): a CLUSTERIP
    /// node answers on its own interface and serves the flows it owns itself.</summary>
    private static readonly string[] NotClusterIpKeys = ["backend_interface"];

    /// <param name="announcing">The config has a top-level <c>announce:</c> (a table to announce into).</param>
    public ServiceConfig? Read(YamlMappingNode map, int maglevSize, bool announcing)
    {
        var entries = r.Entries(map, Keys);
        var ok = true;

        var name = r.RequiredName(map, entries, "name", "service");
        ok &= name is not null;

        IPAddress? vip = null;
        var vipEntry = r.Required(map, entries, "vip");
        if (vipEntry is not null)
        {
            vip = r.ReadAddress(vipEntry.Value, "vip");
            ok &= vip is not null;
        }
        else ok = false;

        ushort port = 0;
        if (r.Required(map, entries, "port") is { } portEntry && r.TryInt(portEntry, 1, 65535, out var portValue)) port = (ushort)portValue;
        else ok = false;

        var protocol = TransportProtocol.Tcp;
        ok &= r.OptionalChoice(entries, "protocol", ModeNames.Protocols, value => protocol = value);

        // Null while the mode is unusable: the mode-specific keys are then all checked, none refused.
        ForwardingMode? mode = ForwardingMode.DirectRouting;
        if (entries.TryGetValue("mode", out var modeEntry))
        {
            mode = null;
            if (r.TryChoice(modeEntry, ModeNames.Modes, out var value)) mode = value;
            else ok = false;
        }
        if (mode is { } known && known != ForwardingMode.Nat)
        {
            foreach (var misplaced in NatOnlyKeys.Where(entries.ContainsKey).Select(k => entries[k]).ToArray())
            {
                r.Error(misplaced.KeyNode, $"'{misplaced.Key}' applies only to mode nat");
                entries.Remove(misplaced.Key);
                ok = false;
            }
        }
        if (mode == ForwardingMode.ClusterIp)
        {
            foreach (var misplaced in NotClusterIpKeys.Where(entries.ContainsKey).Select(k => entries[k]).ToArray())
            {
                r.Error(misplaced.KeyNode, $"'{misplaced.Key}' does not apply to mode clusterip");
                entries.Remove(misplaced.Key);
                ok = false;
            }
            if (entries.Remove("backends", out var misplacedBackends))
            {
                r.Error(misplacedBackends.KeyNode, "'backends' does not apply to mode clusterip (nodes are listed under cluster)");
                ok = false;
            }
            if (!entries.ContainsKey("cluster"))
            {
                r.Error(map, "mode clusterip needs a cluster: section");
                ok = false;
            }
        }
        else if (mode is not null && entries.Remove("cluster", out var misplacedCluster))
        {
            r.Error(misplacedCluster.KeyNode, "'cluster' applies only to mode clusterip");
            ok = false;
        }


        var iface = r.RequiredInterface(map, entries, "interface");
        ok &= iface is not null;

        string? backendIface = null;
        if (entries.TryGetValue("backend_interface", out var backendIfaceEntry))
        {
            backendIface = r.ReadInterface(backendIfaceEntry, "backend_interface");
            ok &= backendIface is not null;
        }

        // Mode clusterip lists nodes instead of backends; with an unusable mode whichever is there is checked.
        List<BackendConfig>? backends = mode == ForwardingMode.ClusterIp || (mode is null && !entries.ContainsKey("backends")) ? [] : null;
        if ((backends is null ? r.Required(map, entries, "backends") : null) is { } backendsEntry)
        {
            backends = new BackendSection(r).ReadAll(backendsEntry, vip, port == 0 ? null : port, mode);
            if (backends is not null && backends.Count > maglevSize)
            {
                r.Error(backendsEntry.Value, $"{backends.Count} backends do not fit a Maglev table of {maglevSize} entries; raise maglev_table_size");
                ok = false;
            }
            if (backends is not null && name is not null && backends.All(b => b.Backup))
            {
                r.Error(backendsEntry.KeyNode, $"every backend of service '{name}' is a backup; at least one must not be");
                ok = false;
            }
        }
        ok &= backends is not null;

        var onBackendDown = BackendDownAction.Reassign;
        ok &= r.OptionalChoice(entries, "on_backend_down", ModeNames.BackendDownActions, value => onBackendDown = value);

        var whenAllDown = AllDownAction.Drop;
        ok &= r.OptionalChoice(entries, "when_all_down", ModeNames.AllDownActions, value => whenAllDown = value);

        var scheduler = SchedulerKind.Maglev;
        ok &= r.OptionalChoice(entries, "scheduler", ModeNames.Schedulers, value => scheduler = value);
        // A CLUSTERIP node does not pick a backend, it decides whether it owns the flow, and every node must decide
        // alike from the packet alone: counts or a round-robin position are one node's own.
        if (mode == ForwardingMode.ClusterIp && scheduler != SchedulerKind.Maglev)
            ok = r.ReportIf(entries["scheduler"], $"scheduler {ModeNames.Name(scheduler)}: a clusterip service is always scheduled by maglev (every node must compute the same owner)");

        HealthCheckConfig? health = HealthCheckConfig.None;
        if (entries.TryGetValue("health", out var healthEntry))
        {
            health = new HealthSection(r).Read(healthEntry);
            ok &= health is not null;
        }

        IPAddress? gateway = null;
        if (entries.TryGetValue("gateway", out var gatewayEntry))
        {
            gateway = r.ReadAddress(gatewayEntry, "gateway");
            if (gateway is not null && vip is not null && gateway.Equals(vip))
            {
                ok = r.ReportIf(gatewayEntry, $"gateway {gateway} is the service's VIP");
                gateway = null;
            }
            else if (gateway is not null && ConfigSyntax.MixedFamilyReason(gateway, vip) is { } mixed)
            {
                ok = r.ReportIf(gatewayEntry, $"gateway {gateway} {mixed}");
                gateway = null;
            }
            ok &= gateway is not null;
        }

        FlowTimeoutsConfig? timeouts = FlowTimeoutsConfig.Default;
        if (entries.TryGetValue("timeouts", out var timeoutsEntry))
        {
            timeouts = new TimeoutsSection(r).Read(timeoutsEntry);
            ok &= timeouts is not null;
        }

        var tcpPickup = false;
        ok &= r.OptionalBool(entries, "tcp_pickup", value => tcpPickup = value);

        var arp = true;
        ok &= r.OptionalBool(entries, "arp", value => arp = value);
        var announce = false;
        ok &= r.OptionalBool(entries, "announce", value => announce = value);
        if (announce && vip is not null && ConfigSyntax.IsIpv6(vip))
            ok = r.ReportIf(entries["announce"], $"announce is IPv4-only so far (vip {vip} is IPv6): route the VIP/128 to this balancer yourself");
        else if (announce && !announcing)
            ok = r.ReportIf(entries["announce"], "announce: true needs a top-level 'announce:' section (the routing table to announce into)");
        if (mode == ForwardingMode.ClusterIp)
            foreach (var key in new[] { "arp", "announce" })
                if (entries.TryGetValue(key, out var misplaced))
                    ok = r.ReportIf(misplaced, $"'{key}' does not apply to mode clusterip (its nodes answer ARP with the cluster MAC)");

        string? notify = null;
        if (entries.TryGetValue("notify", out var notifyEntry))
        {
            // Run by the engine with no shell: a path, absolute so it does not depend on the engine's directory.
            if (!r.TryScalar(notifyEntry, out var script)) ok = false;
            else if (!Path.IsPathFullyQualified(script)) ok = r.ReportIf(notifyEntry, $"notify must be an absolute path to an executable (got '{script}')");
            else notify = script;
        }

        ClusterConfig? cluster = null;
        if (entries.TryGetValue("cluster", out var clusterEntry))
        {
            cluster = new ClusterSection(r).Read(clusterEntry, vip);
            ok &= cluster is not null;
        }

        if (!ok) return null;
        return new ServiceConfig
        {
            Name = name!,
            Vip = vip!,
            Port = port,
            Protocol = protocol,
            Mode = mode!.Value,
            Interface = iface!,
            BackendInterface = backendIface,
            Backends = backends!,
            OnBackendDown = onBackendDown,
            WhenAllDown = whenAllDown,
            Scheduler = scheduler,
            Health = health!,
            Gateway = gateway,
            Timeouts = timeouts!,
            TcpPickup = tcpPickup,
            Arp = arp,
            Announce = announce,
            Cluster = cluster,
            Notify = notify,
            Line = ConfigReader.LineOf(map),
            KeyLines = ConfigReader.KeyLines(entries),
        };
    }
}
