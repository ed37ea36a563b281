using System.Net;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Model;

public enum ForwardingMode
{
    DirectRouting,
    Nat,
    ClusterIp,
}

/// <summary>The packet fields a CLUSTERIP node hashes to find a flow's owner (the original target's three modes).</summary>
public enum ClusterHash
{
    SourceIp,
    SourceIpSourcePort,
    SourceIpSourcePortDestinationPort,
}

/// <summary>One node of a CLUSTERIP cluster, as written in <c>cluster.nodes</c>.</summary>
public sealed record ClusterNodeConfig
{
    public required int Id { get; init; }
    public required IPAddress Address { get; init; }
    public int Weight { get; init; } = BackendConfig.DefaultWeight;
    public int Line { get; init; }
}

/// <summary>A service's <c>cluster:</c> section (mode clusterip).</summary>
public sealed record ClusterConfig
{
    /// <summary>The shared multicast MAC the VIP answers ARP with, so the switch floods every frame to every node.</summary>
    public required MacAddress Mac { get; init; }
    public ClusterHash Hash { get; init; } = ClusterHash.SourceIpSourcePort;
    /// <summary>The id of the node this config runs on.</summary>
    public required int LocalNode { get; init; }
    public required IReadOnlyList<ClusterNodeConfig> Nodes { get; init; }
    /// <summary>The TCP port every node's engine listens on at its node address (<c>heartbeat_port</c>, 0 = none).
    /// Peers connect to it before their health check, so a node whose engine died is seen dead even while its
    /// application still answers.</summary>
    public int HeartbeatPort { get; init; } = DefaultHeartbeatPort;
    public int Line { get; init; }

    public const int DefaultHeartbeatPort = 7355;
}

/// <summary>Idle timeouts per protocol and TCP state: of a NAT service's sessions (<c>timeouts:</c>), and of the
/// flow table DR and CLUSTERIP remember flows in (<c>flow_timeouts:</c>, for the whole engine).</summary>
public sealed record SessionTimeouts
{
    public static readonly SessionTimeouts Default = new();

    public Flows.FlowTimeouts ToFlowTimeouts() => new((long)TcpSyn.TotalMilliseconds, (long)TcpEstablished.TotalMilliseconds,
        (long)TcpClosing.TotalMilliseconds, (long)Udp.TotalMilliseconds);

    public TimeSpan TcpSyn { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan TcpEstablished { get; init; } = TimeSpan.FromSeconds(900);
    public TimeSpan TcpClosing { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan Udp { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>What happens to existing flows of a backend that turns unhealthy (<c>on_backend_down</c>).</summary>
public enum BackendDownAction
{
    /// <summary>Move them to the backend the current table picks (the default).</summary>
    Reassign,
    /// <summary>Drop their packets (counted as <c>backend_down</c>), so clients notice and reconnect.</summary>
    Drop,
    /// <summary>Keep sending them to the backend; only new flows avoid it.</summary>
    Keep,
}

/// <summary>What a service does when no backend is usable (<c>when_all_down</c>).</summary>
public enum AllDownAction
{
    /// <summary>Drop new flows (counted as <c>no_backend</c>).</summary>
    Drop,
    /// <summary>Balance over every active backend with weight, healthy or not.</summary>
    UseAll,
}

public enum HealthCheckType
{
    None,
    Tcp,
    Http,
    Https,
    Udp,
    Exec,
}

/// <summary>A backend's health as the checker sees it; kept apart from the operator's <see cref="BackendIntent"/>.</summary>
public enum BackendHealth : byte
{
    Unknown,
    Healthy,
    Unhealthy,
}

/// <summary>What the operator wants of a backend, whatever its health.</summary>
public enum BackendIntent : byte
{
    Active,
    Draining,
}

public readonly record struct StatusRange(int From, int To)
{
    public bool Contains(int status) => status >= From && status <= To;
    public override string ToString() => From == To ? $"{From}" : $"{From}-{To}";
}

/// <summary>A service's <c>health:</c> section as written. Absent means <c>type: none</c>: every backend
/// counts as healthy from the start.</summary>
public sealed record HealthCheckConfig
{
    public static readonly HealthCheckConfig None = new() { Type = HealthCheckType.None };

    public HealthCheckType Type { get; init; } = HealthCheckType.None;
    /// <summary>Port to probe; null means the backend's own port.</summary>
    public int? Port { get; init; }
    /// <summary>http/https request line.</summary>
    public string Request { get; init; } = "GET / HTTP/1.0";
    public string? Host { get; init; }
    /// <summary>http/https status ranges that count as healthy.</summary>
    public IReadOnlyList<StatusRange> Expect { get; init; } = [new(200, 399)];
    /// <summary>http/https: the status that means "alive, but drain me" (HAProxy's disable-on-404): the
    /// backend gets no new flows and keeps its existing ones, so removing a file such as /running on the
    /// server drains it with no change on the balancer. Default 404; null turns it off.</summary>
    public int? SoftStopStatus { get; init; } = 404;
    /// <summary>udp: the datagram to send.</summary>
    public string Payload { get; init; } = "";
    /// <summary>udp: healthy only when the reply contains this text; empty means any reply.</summary>
    public string Reply { get; init; } = "";
    /// <summary>exec: run through /bin/sh -c, with {address} and {port} substituted.</summary>
    public string Command { get; init; } = "";
    /// <summary>https: verify the server certificate (default off, as HAProxy's check-ssl without verify).</summary>
    public bool VerifyCertificate { get; init; }
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
    public int Rise { get; init; } = 2;
    public int Fall { get; init; } = 2;
    /// <summary>Health of a backend before its first verdict: unknown (no traffic until it passes
    /// <see cref="Rise"/> checks, the default) or healthy (traffic at once, out after <see cref="Fall"/> failures).</summary>
    public BackendHealth Initial { get; init; } = BackendHealth.Unknown;
    public int Line { get; init; }
}

public enum TransportProtocol : byte
{
    Tcp = IpProtocols.Tcp,
    Udp = IpProtocols.Udp,
}

/// <summary>The configuration exactly as the operator wrote it (after validation). Line numbers are
/// kept so later errors (at runtime, too) can point at the file.</summary>
public sealed record BalancerConfig
{
    public const string DefaultControlSocket = "/run/lb/lb.sock";
    public const uint DefaultHashSeed = 0x5EED;
    public const int DefaultFlowTableSize = 1 << 20;
    public const int DefaultSessionTableSize = 1 << 18;

    public uint HashSeed { get; init; } = DefaultHashSeed;
    public int Workers { get; init; } = 1;
    /// <summary>CPUs the workers are pinned to (<c>cpus:</c>), worker i on <c>Cpus[i % Cpus.Count]</c>; empty: not pinned.</summary>
    public IReadOnlyList<int> Cpus { get; init; } = [];
    public string ControlSocket { get; init; } = DefaultControlSocket;
    public int FlowTableSize { get; init; } = DefaultFlowTableSize;
    /// <summary>Idle timeouts of the flow table (<c>flow_timeouts</c>): how long DR and CLUSTERIP remember a flow.
    /// Global, as IPVS's <c>ipvsadm --set</c>; NAT services have their own <c>timeouts</c>.</summary>
    public SessionTimeouts FlowTimeouts { get; init; } = SessionTimeouts.Default;
    /// <summary>NAT sessions per worker (<c>session_table_size</c>). When full, new flows are dropped and counted.</summary>
    public int SessionTableSize { get; init; } = DefaultSessionTableSize;
    public int MaglevTableSize { get; init; } = Scheduling.MaglevTable.DefaultSize;
    public IReadOnlyList<ServiceConfig> Services { get; init; } = [];
    public string? SourcePath { get; init; }
}

public sealed record ServiceConfig
{
    public required string Name { get; init; }
    public required IPAddress Vip { get; init; }
    public required ushort Port { get; init; }
    public TransportProtocol Protocol { get; init; } = TransportProtocol.Tcp;
    public ForwardingMode Mode { get; init; } = ForwardingMode.DirectRouting;
    public required string Interface { get; init; }
    public string? BackendInterface { get; init; }
    public IReadOnlyList<BackendConfig> Backends { get; init; } = [];
    public BackendDownAction OnBackendDown { get; init; } = BackendDownAction.Reassign;
    public AllDownAction WhenAllDown { get; init; } = AllDownAction.Drop;
    public HealthCheckConfig Health { get; init; } = HealthCheckConfig.None;
    /// <summary>NAT: the clients' next hop on <see cref="Interface"/> (a router); null means the clients
    /// are on that link and each is resolved by ARP itself.</summary>
    public IPAddress? Gateway { get; init; }
    /// <summary>NAT: idle timeouts of sessions.</summary>
    public SessionTimeouts Timeouts { get; init; } = SessionTimeouts.Default;
    /// <summary>CLUSTERIP: the cluster this node is part of; null for other modes.</summary>
    public ClusterConfig? Cluster { get; init; }
    /// <summary>NAT: create sessions from mid-stream TCP packets too (conntrack's "loose" pickup). Off by
    /// default: only a SYN opens a session; other packets of unknown flows are dropped and counted.</summary>
    public bool TcpPickup { get; init; }
    public int Line { get; init; }

    public string EffectiveBackendInterface => BackendInterface ?? Interface;
}

public sealed record BackendConfig
{
    public const int DefaultWeight = 100;

    public required string Name { get; init; }
    public required IPAddress Address { get; init; }
    public int Weight { get; init; } = DefaultWeight;
    public MacAddress? Mac { get; init; }
    /// <summary>NAT: the port the backend listens on; null means the service port.</summary>
    public ushort? Port { get; init; }
    /// <summary>Receives traffic only while no normal backend of the service is usable.</summary>
    public bool Backup { get; init; }
    public int Line { get; init; }
}

/// <summary>The words the config, `lb status` and the control socket use for each enumerated value: one
/// table per type, in the order error messages list them, read both ways.</summary>
public static class ModeNames
{
    public static readonly (string Name, ForwardingMode Value)[] Modes =
        [("dr", ForwardingMode.DirectRouting), ("nat", ForwardingMode.Nat), ("clusterip", ForwardingMode.ClusterIp)];
    public static readonly (string Name, TransportProtocol Value)[] Protocols = [("tcp", TransportProtocol.Tcp), ("udp", TransportProtocol.Udp)];
    public static readonly (string Name, ClusterHash Value)[] ClusterHashes =
    [
        ("sourceip", ClusterHash.SourceIp), ("sourceip-sourceport", ClusterHash.SourceIpSourcePort),
        ("sourceip-sourceport-destport", ClusterHash.SourceIpSourcePortDestinationPort),
    ];
    public static readonly (string Name, BackendDownAction Value)[] BackendDownActions =
        [("reassign", BackendDownAction.Reassign), ("drop", BackendDownAction.Drop), ("keep", BackendDownAction.Keep)];
    public static readonly (string Name, AllDownAction Value)[] AllDownActions = [("drop", AllDownAction.Drop), ("use_all", AllDownAction.UseAll)];
    public static readonly (string Name, HealthCheckType Value)[] HealthCheckTypes =
    [
        ("tcp", HealthCheckType.Tcp), ("http", HealthCheckType.Http), ("https", HealthCheckType.Https),
        ("udp", HealthCheckType.Udp), ("exec", HealthCheckType.Exec), ("none", HealthCheckType.None),
    ];
    public static readonly (string Name, BackendHealth Value)[] Healths =
        [("unknown", BackendHealth.Unknown), ("healthy", BackendHealth.Healthy), ("unhealthy", BackendHealth.Unhealthy)];
    public static readonly (string Name, BackendIntent Value)[] Intents = [("active", BackendIntent.Active), ("draining", BackendIntent.Draining)];

    public static string Name(ForwardingMode mode) => NameIn(Modes, mode);
    public static string Name(TransportProtocol protocol) => NameIn(Protocols, protocol);
    public static string Name(ClusterHash hash) => NameIn(ClusterHashes, hash);
    public static string Name(BackendDownAction action) => NameIn(BackendDownActions, action);
    public static string Name(AllDownAction action) => NameIn(AllDownActions, action);
    public static string Name(HealthCheckType type) => NameIn(HealthCheckTypes, type);
    public static string Name(BackendHealth health) => NameIn(Healths, health);
    public static string Name(BackendIntent intent) => NameIn(Intents, intent);

    /// <summary>The value <paramref name="name"/> stands for in <paramref name="table"/>.</summary>
    public static bool TryParse<T>((string Name, T Value)[] table, string? name, out T value) where T : struct, Enum
    {
        foreach (var (n, v) in table)
        {
            if (n != name) continue;
            value = v;
            return true;
        }
        value = default;
        return false;
    }

    private static string NameIn<T>((string Name, T Value)[] table, T value) where T : struct, Enum
    {
        foreach (var (n, v) in table)
            if (EqualityComparer<T>.Default.Equals(v, value)) return n;
        return value.ToString().ToLowerInvariant();
    }
}
