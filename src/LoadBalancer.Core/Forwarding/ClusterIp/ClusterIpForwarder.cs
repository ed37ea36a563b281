using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.ClusterIp;

/// <summary>CLUSTERIP: no dedicated balancer; every node receives every frame to the VIP (the switch floods the
/// multicast cluster MAC) and accepts its share, re-injecting it into its own stack through a TAP.
/// Rewrite rules:
/// - only the Ethernet destination changes, to the TAP's own MAC: the local stack takes a frame to the multicast
///   cluster MAC as not PACKET_HOST, and TCP would drop it; the IP packet is untouched (a partial checksum is completed).
/// The acceptance rule, per frame (everything else is <c>not_owner</c>):
/// 1. a flow this node accepted before (remembered, with the flow table's idle timeouts) is accepted whatever the
///    table says now, so a membership change never breaks an established connection here; a fresh SYN on a
///    closing flow is a new connection, and UDP remembered from before the last rejoin is not trusted (others
///    may have taken it over while this node was away);
/// 2. otherwise only in a majority (a minority node may be the one cut off: it serves what it remembers and
///    takes nothing new), and only a flow whose bucket this node owns;
/// 3. during the TCP transition after a membership change, a TCP flow it does not remember only from a SYN, in
///    every bucket: its owner remembers it, and a new one starts with a SYN;
/// 4. UDP has no SYN: a UDP flow it does not remember is refused in a bucket another live node held within the
///    UDP timeout (a bucket gained from a dead node is taken at once).
/// An ICMP error to the VIP is accepted by the same rule as the flow it quotes (remembered, else owned).
/// Invariants: the ownership hash (<see cref="ClusterFlowHash"/>, seeded with <c>hash_seed</c>) and the table
/// (<see cref="ClusterTable"/>) are the same on every node with the same config and view of who is alive.</summary>
public sealed class ClusterIpForwarder(ClusterIpSettings settings) : IForwarder
{
    public ClusterIpSettings Settings { get; } = settings;

    public Verdict Forward(ref ParsedPacket packet, ServiceSnapshot service, WorkerState worker)
    {
        var s = Settings;
        if (s.ReinjectInterface < 0) return worker.Drop(DropReason.NoBackend);
        var reason = Accept(ref packet, service, worker);
        if (reason != DropReason.None) return worker.Drop(reason);
        if (!packet.CompleteChecksum()) return worker.Drop(DropReason.ChecksumOffsetInvalid);
        worker.Interfaces.Mac(s.ReinjectInterface).Write(packet.Frame);
        return worker.Transmit(ref packet, s.ReinjectInterface, service.Id, backendId: -1);
    }

    /// <summary>An ICMP error about a flow is accepted where the flow is: by the node that remembers it, else by the
    /// bucket's owner (in a majority); every other node drops it as <c>not_owner</c>, as it would the flow's packets.</summary>
    public Verdict ForwardIcmpError(ref ParsedPacket packet, in QuotedDatagram quote, in FlowKey flow, uint hash, ServiceSnapshot service, WorkerState worker)
    {
        var s = Settings;
        if (s.ReinjectInterface < 0) return worker.Drop(DropReason.NoBackend);
        ref var entry = ref worker.Flows.Find(flow, hash, packet.NowMs);
        if (Unsafe.IsNullRef(ref entry))
        {
            if (!s.HasQuorum) return worker.Drop(DropReason.NotOwner);
            var h = ClusterFlowHash.Compute(s.Hash, flow.SourceAddress, flow.SourcePort, flow.DestinationPort, s.HashSeed);
            if (s.Table.OwnerOf(h) != s.LocalNode) return worker.Drop(DropReason.NotOwner);
        }
        worker.Interfaces.Mac(s.ReinjectInterface).Write(packet.Frame);
        return worker.Transmit(ref packet, s.ReinjectInterface, service.Id, backendId: -1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DropReason Accept(ref ParsedPacket packet, ServiceSnapshot service, WorkerState worker)
    {
        var s = Settings;
        var isTcp = packet.IsTcp;
        var isNewSyn = packet.IsNewSyn;
        var now = packet.NowMs;
        ref var flow = ref worker.Flows.Find(packet.Key, packet.Hash, now);
        if (Unsafe.IsNullRef(ref flow) || (isNewSyn && flow.State == FlowState.TcpClosing) || (!isTcp && flow.LastSeenMs < s.RejoinedAtMs))
        {
            if (!s.HasQuorum) return DropReason.NotOwner;
            var key = packet.Key;
            var h = ClusterFlowHash.Compute(s.Hash, key.SourceAddress, key.SourcePort, key.DestinationPort, s.HashSeed);
            if (s.Table.OwnerOf(h) != s.LocalNode) return DropReason.NotOwner;
            if (isTcp && !isNewSyn && now - s.ChangedAtMs < s.TcpTransitionMs) return DropReason.NotOwner;
            if (!isTcp && s.Buckets.HeldByLiveNode(h, s.Table, now, s.UdpTransitionMs)) return DropReason.NotOwner;
            if (!worker.AdmitNewFlow(now)) return DropReason.NewFlowRateExceeded;
            var state = FlowTable.InitialState(isTcp, packet.TcpFlags);
            if (Unsafe.IsNullRef(ref flow)) flow = ref worker.Flows.Insert(packet.Key, packet.Hash, s.LocalNode, state, now);
            else flow.State = state;
            worker.Counters.ServiceFlows[service.Id]++;
        }
        else
        {
            flow.State = FlowTable.Advance(flow.State, isTcp, packet.TcpFlags);
        }
        flow.LastSeenMs = now;
        return DropReason.None;
    }

    // IPv6 in this mode is refused by lb check until it is implemented, so no IPv6 service is bound here; were one
    // to be, its frames are the kernel's, as before IPv6 was parsed at all.
    public Verdict Forward6(ref ParsedPacket6 packet, ServiceSnapshot service, WorkerState worker) => worker.Pass();

    public Verdict ForwardIcmpError6(ref ParsedPacket6 packet, in FlowKey6 flow, uint hash, ServiceSnapshot service, WorkerState worker) => worker.Pass();
}
