using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Model;

/// <summary>A backend as the data path sees it in one snapshot. Immutable.</summary>
public sealed class BackendSnapshot
{
    /// <summary>Stable across snapshots for the same service and backend name; flow entries store it.</summary>
    public required int Id { get; init; }
    public required string Name { get; init; }
    public required uint Address { get; init; }
    /// <summary>The port the backend listens on (NAT may differ from the service port; DR never does).</summary>
    public ushort Port { get; init; }
    /// <summary>The operator's weight (config, or <c>lb backend weight</c>); 0 drains.</summary>
    public required int Weight { get; init; }
    /// <summary>The weight this backend has in the Maglev table: <see cref="Weight"/> when it takes new
    /// flows, 0 when it does not (draining, soft-stopped, unhealthy, unknown, or a backup standing by).</summary>
    public int TableWeight { get; internal set; }
    public BackendHealth Health { get; init; } = BackendHealth.Healthy;
    public BackendIntent Intent { get; init; } = BackendIntent.Active;
    /// <summary>Its health check asked for a drain (soft-stop file removed): no new flows, existing continue.</summary>
    public bool SoftStopped { get; init; }
    public bool IsBackup { get; init; }
    /// <summary>Unhealthy: its existing flows follow the service's <see cref="ServiceSnapshot.OnBackendDown"/>.</summary>
    public bool IsDown => Health == BackendHealth.Unhealthy;
    /// <summary>Index into the shared <see cref="NeighborTable"/> for this backend's MAC.</summary>
    public required int NeighborIndex { get; init; }
}

/// <summary>A virtual service in one snapshot: its backends, its Maglev table and its forwarder, bound
/// once here (as IPVS binds the transmitter at connection setup). The packet path still branches on mode
/// where the modes differ before the rewrite (how the backend is chosen, NAT's MTU check, CLUSTERIP's
/// ownership); the rewrite itself is the forwarder's.</summary>
public sealed class ServiceSnapshot
{
    public required int Index { get; init; }
    public required string Name { get; init; }
    public required uint Vip { get; init; }
    public required ushort Port { get; init; }
    public required byte Protocol { get; init; }
    public required ForwardingMode Mode { get; init; }
    public required int IngressPort { get; init; }
    public required int EgressPort { get; init; }
    public required BackendSnapshot[] Backends { get; init; }
    public required MaglevTable Table { get; init; }
    /// <summary>Backend slot by stable id, -1 where the id is not (or no longer) in this service.</summary>
    public required int[] SlotById { get; init; }
    /// <summary>DR and NAT: the rewrite. Null for CLUSTERIP, which re-injects the frame as it is.</summary>
    public required IForwarder? Forwarder { get; init; }
    public BackendDownAction OnBackendDown { get; init; } = BackendDownAction.Reassign;
    /// <summary>No backend is usable (the table is empty, or spans unhealthy backends under use_all).</summary>
    public bool AllDown { get; init; }
    /// <summary>CLUSTERIP: who owns which flows now, over the nodes alive.</summary>
    public ClusterTable? Cluster { get; init; }
    /// <summary>CLUSTERIP: when the last membership change happened (a cold start, losing or regaining quorum
    /// count too); for <see cref="ClusterTcpTransitionMs"/> after it, TCP flows this node does not remember are
    /// taken only from a SYN, in every bucket.</summary>
    public long ClusterChangedAtMs { get; init; }
    public long ClusterTcpTransitionMs { get; init; }
    /// <summary>CLUSTERIP: which other node held each bucket lately; UDP this node does not remember is refused
    /// in a bucket a live node held within <see cref="ClusterUdpTransitionMs"/> (the UDP idle timeout).</summary>
    public ClusterBucketHistory? ClusterBuckets { get; init; }
    public long ClusterUdpTransitionMs { get; init; }
    /// <summary>CLUSTERIP: when this node last came back (into a majority, alive in its own view). UDP flows it
    /// remembers from before then are not trusted: others may have taken them over while it was away.</summary>
    public long ClusterRejoinedAtMs { get; init; } = long.MinValue;
    public int LocalNode { get; init; }
    /// <summary>CLUSTERIP: this node sees a majority alive. Without it, it takes no new flows at all.</summary>
    public bool ClusterHasQuorum { get; init; } = true;
    /// <summary>CLUSTERIP: the multicast MAC the VIP is announced with.</summary>
    public MacAddress ClusterMac { get; init; }
    public ClusterHash ClusterHash { get; init; }
    /// <summary>CLUSTERIP: the port (a TAP device) accepted frames are re-injected through.</summary>
    public int ReinjectPort { get; init; } = -1;
    /// <summary>NAT: idle timeouts of this service's sessions.</summary>
    public FlowTimeouts SessionTimeouts { get; init; } = Flows.FlowTimeouts.Default;
    /// <summary>NAT: open sessions from mid-stream TCP packets too.</summary>
    public bool TcpPickup { get; init; }
    /// <summary>NAT: neighbour slot of the configured gateway (the clients' next hop), or -1 to answer
    /// each client through the MAC its frames came from.</summary>
    public int GatewayNeighborIndex { get; init; } = -1;

    public BackendSnapshot? BackendById(int id) =>
        (uint)id < (uint)SlotById.Length && SlotById[id] >= 0 ? Backends[SlotById[id]] : null;
}

/// <summary>Everything the data path reads, swapped whole. Never mutated after publication.</summary>
public sealed class DataPlaneSnapshot
{
    public required long Version { get; init; }
    public required uint HashSeed { get; init; }
    public required ServiceSnapshot[] Services { get; init; }

    public ServiceSnapshot? FindService(uint vip, byte protocol, ushort port)
    {
        // Linear scan: a balancer has few services and this beats hashing below ~16 of them.
        foreach (var s in Services)
            if (s.Vip == vip && s.Port == port && s.Protocol == protocol) return s;
        return null;
    }

    /// <summary>Bit n set: port n is the backend side of a NAT service, where replies arrive.</summary>
    public ulong NatBackendPorts { get; init; }

    public bool IsNatBackendPort(int port) => port < 64 && (NatBackendPorts & (1UL << port)) != 0;

    public bool IsVip(uint address)
    {
        foreach (var s in Services)
            if (s.Vip == address) return true;
        return false;
    }
}

/// <summary>Holds the current snapshot. Readers take <see cref="Current"/> once per batch; the control
/// plane publishes a complete new snapshot with one reference write.</summary>
public sealed class DataPlaneState(DataPlaneSnapshot initial)
{
    // volatile: the publishing write must not be reordered before the snapshot's construction,
    // and readers must see the newest reference without locks.
    private volatile DataPlaneSnapshot _current = initial;

    public DataPlaneSnapshot Current => _current;

    public void Publish(DataPlaneSnapshot snapshot) => _current = snapshot;
}
