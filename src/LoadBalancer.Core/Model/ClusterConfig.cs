using System.Net;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Model;

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

    /// <summary>The name the node goes by where backends are listed (health reports, the backend state table,
    /// <c>lb status</c>): peers are probed like backends.</summary>
    public string BackendName => NameOf(Id);

    /// <summary>The backend name of node <paramref name="id"/> (<c>node-2</c>).</summary>
    public static string NameOf(int id) => "node-" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The node seen as a backend, so health, intent and the state table treat it like one.</summary>
    public BackendConfig AsBackend() => new() { Name = BackendName, Address = Address, Weight = Weight };
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

