using System.Net;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Model;

public enum ForwardingMode
{
    DirectRouting,
    Nat,
    ClusterIp,
}

public enum TransportProtocol : byte
{
    Tcp = IpProtocols.Tcp,
    Udp = IpProtocols.Udp,
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

/// <summary>How a new flow's backend is chosen (<c>scheduler:</c>).</summary>
public enum SchedulerKind
{
    /// <summary>Maglev over the flow hash (the default): every balancer and node with the same backends agrees.</summary>
    Maglev,
    /// <summary>Weighted least connections: the lowest active flows per unit of weight, ties by the flow hash.</summary>
    Wlc,
    /// <summary>Weighted round robin (smooth), per worker.</summary>
    Wrr,
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
    /// <summary>How new flows pick a backend (<c>scheduler:</c>); CLUSTERIP is always Maglev.</summary>
    public SchedulerKind Scheduler { get; init; } = SchedulerKind.Maglev;
    public HealthCheckConfig Health { get; init; } = HealthCheckConfig.None;
    /// <summary>NAT: the clients' next hop on <see cref="Interface"/> (a router); null means the clients
    /// are on that link and each is resolved by ARP itself.</summary>
    public IPAddress? Gateway { get; init; }
    /// <summary>NAT: idle timeouts of sessions.</summary>
    public FlowTimeoutsConfig Timeouts { get; init; } = FlowTimeoutsConfig.Default;
    /// <summary>Answer ARP for the VIP and announce it by gratuitous ARP (<c>arp</c>, default true); false when the
    /// VIP is routed to this balancer (a BGP next hop). Backend MACs are resolved by ARP either way.</summary>
    public bool Arp { get; init; } = true;
    /// <summary>Put the VIP/32 in <see cref="AnnounceConfig.Table"/> while the service has a usable backend
    /// (<c>announce</c>, default false).</summary>
    public bool Announce { get; init; }
    /// <summary>CLUSTERIP: the cluster this node is part of; null for other modes.</summary>
    public ClusterConfig? Cluster { get; init; }
    /// <summary>NAT: create sessions from mid-stream TCP packets too (conntrack's "loose" pickup). Off by
    /// default: only a SYN opens a session; other packets of unknown flows are dropped and counted.</summary>
    public bool TcpPickup { get; init; }
    /// <summary>A script run at each state change of the service's backends (<c>notify:</c>) with the arguments
    /// SERVICE BACKEND OLD NEW REASON; null: none.</summary>
    public string? Notify { get; init; }
    public int Line { get; init; }
    /// <summary>The line of each of the service's keys present in the file (for a reload's refusals).</summary>
    public IReadOnlyDictionary<string, int> KeyLines { get; init; } = BalancerConfig.EmptyKeyLines;

    public string EffectiveBackendInterface => BackendInterface ?? Interface;

    /// <summary>An IPv6 service: its VIP, and so (<c>lb check</c> refuses mixing) its backends, are IPv6.</summary>
    public bool IsIpv6 => Vip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    /// <summary>What the backend state table and the health checker track for this service: its backends,
    /// or for CLUSTERIP its nodes, each seen as a backend (<see cref="ClusterNodeConfig.AsBackend"/>).</summary>
    public IEnumerable<BackendConfig> EffectiveBackends => Cluster is { } cluster ? cluster.Nodes.Select(n => n.AsBackend()) : Backends;
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
    /// <summary>Active flows at which the backend takes no new ones (<c>max_connections</c>); 0: no limit.</summary>
    public int MaxConnections { get; init; }
    /// <summary>Active flows it must fall strictly below to take new ones again (<c>min_connections</c>); null: 3/4 of
    /// <see cref="MaxConnections"/> (IPVS's lower threshold).</summary>
    public int? MinConnections { get; init; }
    /// <summary>Both thresholds as the data path uses them.</summary>
    public Scheduling.ConnectionLimit Limit => MaxConnections <= 0 ? Scheduling.ConnectionLimit.None
        : MinConnections is { } min ? new(MaxConnections, min) : Scheduling.ConnectionLimit.WithDefaultMin(MaxConnections);
    public int Line { get; init; }
}

