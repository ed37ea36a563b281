using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.ClusterIp;

/// <summary>What a CLUSTERIP service needs beyond what every service has, bound when its snapshot is built:
/// the membership view of that moment and the fixed facts of the cluster and the engine. Immutable.</summary>
public sealed record ClusterIpSettings
{
    /// <summary>Who owns which flows now, over the nodes alive (or every node, without quorum).</summary>
    public required ClusterTable Table { get; init; }
    /// <summary>Which other node held each bucket lately; UDP this node does not remember is refused in a bucket a
    /// live node held within <see cref="UdpTransitionMs"/>.</summary>
    public required ClusterBucketHistory Buckets { get; init; }
    /// <summary>For <see cref="TcpTransitionMs"/> after this, TCP flows this node does not remember are taken only
    /// from a SYN, in every bucket.</summary>
    public required long ChangedAtMs { get; init; }
    /// <summary>UDP flows remembered from before this are not trusted (see <see cref="ClusterView.RejoinedAtMs"/>).</summary>
    public required long RejoinedAtMs { get; init; }
    public required bool HasQuorum { get; init; }
    /// <summary>The transitions last as long as the flows they protect are remembered: the flow table's
    /// <c>tcp_established</c> and <c>udp</c> timeouts.</summary>
    public required long TcpTransitionMs { get; init; }
    public required long UdpTransitionMs { get; init; }
    public required int LocalNode { get; init; }
    /// <summary>The multicast MAC the VIP is announced with.</summary>
    public required MacAddress Mac { get; init; }
    public required ClusterHash Hash { get; init; }
    public required uint HashSeed { get; init; }
    /// <summary>The interface (a TAP device) accepted frames are re-injected through, or -1 when the engine has none.</summary>
    public required int ReinjectInterface { get; init; }

    /// <summary>The ownership hash (<see cref="ClusterFlowHash"/>) of a flow of either family, for the forwarder and
    /// for flow lookup alike; the type test is decided per instantiation by the JIT.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint OwnershipHash<TKey>(in TKey key) where TKey : struct
    {
        if (typeof(TKey) == typeof(FlowKey))
        {
            ref readonly var k = ref Unsafe.As<TKey, FlowKey>(ref Unsafe.AsRef(in key));
            return ClusterFlowHash.Compute(Hash, k.SourceAddress, k.SourcePort, k.DestinationPort, HashSeed);
        }
        ref readonly var k6 = ref Unsafe.As<TKey, FlowKey6>(ref Unsafe.AsRef(in key));
        return ClusterFlowHash.Compute6(Hash, k6.SourceAddress, k6.SourcePort, k6.DestinationPort, HashSeed);
    }

    public static ClusterIpSettings Bind(ClusterConfig cluster, ClusterView view, BalancerConfig config, int reinjectInterface) => new()
    {
        Table = view.Table,
        Buckets = view.Buckets,
        ChangedAtMs = view.ChangedAtMs,
        RejoinedAtMs = view.RejoinedAtMs,
        HasQuorum = view.HasQuorum,
        TcpTransitionMs = (long)config.FlowTimeouts.TcpEstablished.TotalMilliseconds,
        UdpTransitionMs = (long)config.FlowTimeouts.Udp.TotalMilliseconds,
        LocalNode = cluster.LocalNode,
        Mac = cluster.Mac,
        Hash = cluster.Hash,
        HashSeed = config.HashSeed,
        ReinjectInterface = reinjectInterface,
    };
}
