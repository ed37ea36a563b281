using LoadBalancer.Core.Model;

namespace LoadBalancer.Hosting.Reload;

/// <summary>A key a reload cannot change while the engine runs, with the line it is on in the new file (0 when the
/// key was removed from it).</summary>
public readonly record struct ReloadRefusal(int Line, string Message);

/// <summary>What a reload would change, from the running config to the new one, key by key. Services are matched
/// by name and backends by name within their service; a service whose VIP, port or protocol changed is a removal
/// plus an addition, and a backend whose address or port changed is another server under the old name (replaced:
/// its health starts over and its predecessor is removed). Keys that the engine fixed at start are refusals:
/// engine-wide <c>workers</c>, <c>cpus</c>, the table sizes, <c>control_socket</c>, <c>control_group</c>,
/// <c>control_admin_group</c>, <c>hash_seed</c> (it places
/// every flow), <c>flow_timeouts</c> and <c>new_flow_rate</c> (built into each worker's tables), <c>ha</c> and
/// <c>announce</c>, <c>http</c>; per service <c>interface</c>, <c>backend_interface</c>, <c>mode</c> and <c>cluster</c>.
/// The rest changes live, <c>scheduler</c> and a backend's <c>max_connections</c> and <c>min_connections</c> among it:
/// they are read when a new flow is given a backend, so the next snapshot is all they need.
/// Whether a new service fits the interfaces the engine reads is the engine's question, not this one's.</summary>
public sealed class ConfigDiff
{
    private readonly List<ReloadRefusal> _refusals = new();
    private readonly List<string> _changes = new();
    private readonly HashSet<(string Service, string Backend)> _weightChanged = new();

    public IReadOnlyList<ReloadRefusal> Refusals => _refusals;
    /// <summary>One line per service or backend added, removed, replaced or changed, in the new file's order.</summary>
    public IReadOnlyList<string> Changes => _changes;
    /// <summary>Kept backends whose configured weight changed: the config's weight replaces a runtime one.</summary>
    public bool WeightChanged(string service, string backend) => _weightChanged.Contains((service, backend));
    /// <summary>Backends (of services still there) that the new config no longer has, or has at another address or
    /// port: their flows follow the service's <c>on_backend_down</c>.</summary>
    public IReadOnlyList<(ServiceConfig Service, BackendConfig Backend)> Removed => _removed;
    private readonly List<(ServiceConfig, BackendConfig)> _removed = new();

    public bool IsEmpty => _changes.Count == 0 && _refusals.Count == 0;

    public static ConfigDiff Compare(BalancerConfig current, BalancerConfig next)
    {
        var diff = new ConfigDiff();
        diff.CompareEngine(current, next);
        var kept = new Dictionary<string, ServiceConfig>(StringComparer.Ordinal);
        foreach (var s in current.Services) kept[s.Name] = s;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in next.Services)
        {
            seen.Add(s.Name);
            if (!kept.TryGetValue(s.Name, out var old)) diff._changes.Add($"service {s.Name} added ({Endpoint(s)}, {ModeNames.Name(s.Mode)}, {s.EffectiveBackends.Count()} backends)");
            else if (!SameEndpoint(old, s))
            {
                diff._changes.Add($"service {s.Name} removed ({Endpoint(old)}): its flows end");
                diff._changes.Add($"service {s.Name} added ({Endpoint(s)}, {ModeNames.Name(s.Mode)}, {s.EffectiveBackends.Count()} backends)");
            }
            else diff.CompareService(old, s);
        }
        foreach (var s in current.Services)
            if (!seen.Contains(s.Name)) diff._changes.Add($"service {s.Name} removed ({Endpoint(s)}): its flows end");
        return diff;
    }

    private void CompareEngine(BalancerConfig a, BalancerConfig b)
    {
        Fixed(b, "workers", a.Workers, b.Workers);
        Fixed(b, "cpus", string.Join(",", a.Cpus), string.Join(",", b.Cpus));
        Fixed(b, "flow_table_size", a.FlowTableSize, b.FlowTableSize);
        Fixed(b, "session_table_size", a.SessionTableSize, b.SessionTableSize);
        Fixed(b, "control_socket", a.ControlSocket, b.ControlSocket);
        // Restart-only like the socket itself: the group is the socket file's, set when it was made, and an admin
        // group that a reload could change would let a request change who may send the next one.
        Fixed(b, "control_group", a.ControlGroup?.Name ?? "none", b.ControlGroup?.Name ?? "none");
        Fixed(b, "control_admin_group", a.ControlAdminGroup?.Name ?? "none", b.ControlAdminGroup?.Name ?? "none");
        Fixed(b, "hash_seed", a.HashSeed, b.HashSeed);
        Fixed(b, "new_flow_rate", a.NewFlowRate?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none",
            b.NewFlowRate?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none");
        if (a.FlowTimeouts != b.FlowTimeouts) Refuse(Line(b.KeyLines, "flow_timeouts"), "flow_timeouts");
        if (!SameHa(a.Ha, b.Ha)) Refuse(Line(b.KeyLines, "ha"), "ha");
        if (a.Announce?.Table != b.Announce?.Table) Refuse(Line(b.KeyLines, "announce"), "announce");
        if (!Equals(a.Http?.Listen, b.Http?.Listen)) Refuse(Line(b.KeyLines, "http"), "http (the listener is bound at start)");
        Fixed(b, "io", ModeNames.Name(a.Io), ModeNames.Name(b.Io));
        if (a.Xdp with { Line = 0 } != b.Xdp with { Line = 0 }) Refuse(Line(b.KeyLines, "xdp"), "xdp (the sockets and the program are set up at start)");
        if (a.MaglevTableSize != b.MaglevTableSize) _changes.Add($"maglev_table_size {a.MaglevTableSize} -> {b.MaglevTableSize}");
    }

    private void CompareService(ServiceConfig a, ServiceConfig b)
    {
        var where = $"service {b.Name}: ";
        if (a.Interface != b.Interface) Refuse(Line(b.KeyLines, "interface", b.Line), where + "interface");
        if (a.EffectiveBackendInterface != b.EffectiveBackendInterface) Refuse(Line(b.KeyLines, "backend_interface", b.Line), where + "backend_interface");
        if (a.Mode != b.Mode) Refuse(Line(b.KeyLines, "mode", b.Line), where + "mode");
        if (!SameCluster(a.Cluster, b.Cluster)) Refuse(Line(b.KeyLines, "cluster", b.Line), where + "cluster");

        var keys = new List<string>();
        if (a.OnBackendDown != b.OnBackendDown) keys.Add($"on_backend_down {ModeNames.Name(a.OnBackendDown)} -> {ModeNames.Name(b.OnBackendDown)}");
        if (a.WhenAllDown != b.WhenAllDown) keys.Add($"when_all_down {ModeNames.Name(a.WhenAllDown)} -> {ModeNames.Name(b.WhenAllDown)}");
        if (a.Scheduler != b.Scheduler) keys.Add($"scheduler {ModeNames.Name(a.Scheduler)} -> {ModeNames.Name(b.Scheduler)} (for new flows)");
        if (!a.Health.SameSettings(b.Health)) keys.Add("health (its checks restart)");
        if (!Equals(a.Gateway, b.Gateway)) keys.Add($"gateway {a.Gateway?.ToString() ?? "none"} -> {b.Gateway?.ToString() ?? "none"}");
        if (a.Timeouts != b.Timeouts) keys.Add("timeouts (for new sessions)");
        if (a.TcpPickup != b.TcpPickup) keys.Add($"tcp_pickup {Bool(a.TcpPickup)} -> {Bool(b.TcpPickup)}");
        if (a.Arp != b.Arp) keys.Add($"arp {Bool(a.Arp)} -> {Bool(b.Arp)}");
        if (a.Announce != b.Announce) keys.Add($"announce {Bool(a.Announce)} -> {Bool(b.Announce)}");
        if (a.Notify != b.Notify) keys.Add($"notify {a.Notify ?? "none"} -> {b.Notify ?? "none"}");
        if (keys.Count > 0) _changes.Add($"service {b.Name} changed: {string.Join(", ", keys)}");
        if (a.Cluster is not null) return; // nodes are part of cluster, compared above

        var old = new Dictionary<string, BackendConfig>(StringComparer.Ordinal);
        foreach (var backend in a.Backends) old[backend.Name] = backend;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in b.Backends)
        {
            seen.Add(n.Name);
            var name = $"backend {b.Name}/{n.Name}";
            if (!old.TryGetValue(n.Name, out var o))
            {
                var limit = n.MaxConnections > 0 ? $", max_connections {MaxConnections(n)}" : "";
                _changes.Add($"{name} added ({Address(n)}, weight {n.Weight}{(n.Backup ? ", backup" : "")}{limit})");
                continue;
            }
            if (!Equals(o.Address, n.Address) || o.Port != n.Port)
            {
                _changes.Add($"{name} replaced: {Address(o)} -> {Address(n)} (another server: its health starts over)");
                _removed.Add((b, o));
                continue;
            }
            var changed = new List<string>();
            if (o.Weight != n.Weight)
            {
                changed.Add($"weight {o.Weight} -> {n.Weight}");
                _weightChanged.Add((b.Name, n.Name));
            }
            if (o.Backup != n.Backup) changed.Add($"backup {Bool(o.Backup)} -> {Bool(n.Backup)}");
            if (o.Mac != n.Mac) changed.Add($"mac {o.Mac?.ToString() ?? "by ARP"} -> {n.Mac?.ToString() ?? "by ARP"}");
            if (o.MaxConnections != n.MaxConnections) changed.Add($"max_connections {MaxConnections(o)} -> {MaxConnections(n)}");
            if (o.MinConnections != n.MinConnections) changed.Add($"min_connections {MinConnections(o)} -> {MinConnections(n)}");
            if (changed.Count > 0) _changes.Add($"{name} changed: {string.Join(", ", changed)}");
        }
        foreach (var o in a.Backends)
            // Its line is the engine's, which knows whether flows stay for it (EngineControl.Reload).
            if (!seen.Contains(o.Name)) _removed.Add((b, o));
    }

    private void Fixed<T>(BalancerConfig next, string key, T now, T wanted) where T : IEquatable<T>
    {
        if (!now.Equals(wanted)) Refuse(Line(next.KeyLines, key), $"{key} ({now} now, {wanted} in the file)");
    }

    private void Refuse(int line, string what) =>
        _refusals.Add(new ReloadRefusal(line, $"{what} cannot change while the engine runs: a restart is needed (lb reload changed nothing)"));

    private static int Line(IReadOnlyDictionary<string, int> lines, string key, int fallback = 0) =>
        lines.TryGetValue(key, out var line) ? line : fallback;

    private static bool SameEndpoint(ServiceConfig a, ServiceConfig b) => Equals(a.Vip, b.Vip) && a.Port == b.Port && a.Protocol == b.Protocol;

    private static bool SameHa(HaConfig? a, HaConfig? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (a.InitialRole != b.InitialRole || a.GarpCount != b.GarpCount || a.GarpInterval != b.GarpInterval) return false;
        if (a.Sync is null || b.Sync is null) return a.Sync is null && b.Sync is null;
        return Equals(a.Sync.Peer, b.Sync.Peer) && a.Sync.Port == b.Sync.Port && a.Sync.Interface == b.Sync.Interface &&
               (a.Sync.Key ?? []).AsSpan().SequenceEqual(b.Sync.Key ?? []);
    }

    private static bool SameCluster(ClusterConfig? a, ClusterConfig? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (a.Mac != b.Mac || a.Hash != b.Hash || a.LocalNode != b.LocalNode || a.HeartbeatPort != b.HeartbeatPort || a.Nodes.Count != b.Nodes.Count) return false;
        for (var i = 0; i < a.Nodes.Count; i++)
            if (a.Nodes[i].Id != b.Nodes[i].Id || !Equals(a.Nodes[i].Address, b.Nodes[i].Address) || a.Nodes[i].Weight != b.Nodes[i].Weight) return false;
        return true;
    }

    private static string Endpoint(ServiceConfig s) => $"{new System.Net.IPEndPoint(s.Vip, s.Port)}/{ModeNames.Name(s.Protocol)}";
    /// <summary>A backend as a diff line names it: the address, with its own port as an endpoint ([IPv6]:port).</summary>
    private static string Address(BackendConfig b) => b.Port is { } port ? new System.Net.IPEndPoint(b.Address, port).ToString() : b.Address.ToString();
    private static string Bool(bool value) => value ? "true" : "false";
    private static string MaxConnections(BackendConfig b) => b.MaxConnections > 0 ? b.MaxConnections.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none";
    /// <summary>Left out, min is 3/4 of max (<see cref="BackendConfig.MinConnections"/>): "default", as the file has it.</summary>
    private static string MinConnections(BackendConfig b) => b.MinConnections?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default";
}
