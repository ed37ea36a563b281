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
/// IPv6 (CLUSTERIP6) follows the same rules over the worker's IPv6 flow table, with the ownership hash over the IPv6
/// client's address (<see cref="ClusterFlowHash.Compute6"/>); an ICMPv6 error likewise.
/// Invariants: the ownership hash (<see cref="ClusterFlowHash"/>, seeded with <c>hash_seed</c>) and the table
/// (<see cref="ClusterTable"/>) are the same on every node with the same config and view of who is alive.</summary>
public sealed class ClusterIpForwarder(ClusterIpSettings settings) : IForwarder
{
    public ClusterIpSettings Settings { get; } = settings;

    /// <summary>The backend id of a CLUSTERIP flow entry: none (the flow is this node's own).</summary>
    public const int NoBackend = -1;

    public Verdict Forward(ref ParsedPacket packet, ServiceSnapshot service, WorkerState worker)
    {
        var s = Settings;
        if (s.ReinjectInterface < 0) return worker.Drop(DropReason.NoBackend);
        var reason = Accept(worker.Flows, packet.Key, packet.Hash, packet.TcpFlags, packet.IsTcp, packet.IsNewSyn, packet.NowMs, service, worker);
        if (reason != DropReason.None) return worker.Drop(reason);
        if (!packet.CompleteChecksum()) return worker.Drop(DropReason.ChecksumOffsetInvalid);
        worker.Interfaces.Mac(s.ReinjectInterface).Write(packet.Frame);
        return worker.Transmit(ref packet, s.ReinjectInterface, service.Id, backendId: -1);
    }

    /// <summary>IPv6 under the same rule, over the worker's IPv6 flow table; the re-injected frame is the client's,
    /// only its Ethernet destination changed (the hop limit too stays as it came: the TAP is this host, not a hop).</summary>
    public Verdict Forward6(ref ParsedPacket6 packet, ServiceSnapshot service, WorkerState worker)
    {
        var s = Settings;
        if (s.ReinjectInterface < 0 || worker.Flows6 is not { } flows) return worker.Drop(DropReason.NoBackend);
        var reason = Accept(flows, packet.Key, packet.Hash, packet.TcpFlags, packet.IsTcp, packet.IsNewSyn, packet.NowMs, service, worker);
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
        if (!OwnsError(worker.Flows, flow, hash, packet.NowMs)) return worker.Drop(DropReason.NotOwner);
        worker.Interfaces.Mac(s.ReinjectInterface).Write(packet.Frame);
        return worker.Transmit(ref packet, s.ReinjectInterface, service.Id, backendId: -1);
    }

    /// <summary>An ICMPv6 error (Packet Too Big above all) about an IPv6 flow, as <see cref="ForwardIcmpError"/>.</summary>
    public Verdict ForwardIcmpError6(ref ParsedPacket6 packet, in FlowKey6 flow, uint hash, ServiceSnapshot service, WorkerState worker)
    {
        var s = Settings;
        if (s.ReinjectInterface < 0 || worker.Flows6 is not { } flows) return worker.Drop(DropReason.NoBackend);
        if (!OwnsError(flows, flow, hash, packet.NowMs)) return worker.Drop(DropReason.NotOwner);
        worker.Interfaces.Mac(s.ReinjectInterface).Write(packet.Frame);
        return worker.Transmit(ref packet, s.ReinjectInterface, service.Id, backendId: -1);
    }

    /// <summary>Whether this node takes an error about <paramref name="flow"/>: it remembers the flow, or (in a
    /// majority) owns its bucket. The flow's entry is not touched: an error is not the flow's activity.</summary>
    private bool OwnsError<TKey>(FlowTable<TKey> flows, in TKey flow, uint hash, long nowMs) where TKey : struct, IEquatable<TKey>
    {
        var s = Settings;
        ref var entry = ref flows.Find(flow, hash, nowMs);
        if (!Unsafe.IsNullRef(ref entry)) return true;
        return s.HasQuorum && s.Table.OwnerOf(s.OwnershipHash(flow)) == s.LocalNode;
    }

    /// <summary>The acceptance rule for either family's flow table. Generic so the JIT compiles it per key type: the
    /// IPv4 copy is what it was before IPv6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DropReason Accept<TKey>(FlowTable<TKey> flows, in TKey key, uint hash, TcpFlags tcpFlags, bool isTcp, bool isNewSyn, long now,
        ServiceSnapshot service, WorkerState worker) where TKey : struct, IEquatable<TKey>
    {
        var s = Settings;
        ref var flow = ref flows.Find(key, hash, now);
        if (Unsafe.IsNullRef(ref flow) || (isNewSyn && flow.State == FlowState.TcpClosing) || (!isTcp && flow.LastSeenMs < s.RejoinedAtMs))
        {
            if (!s.HasQuorum) return DropReason.NotOwner;
            var h = s.OwnershipHash(key);
            if (s.Table.OwnerOf(h) != s.LocalNode) return DropReason.NotOwner;
            if (isTcp && !isNewSyn && now - s.ChangedAtMs < s.TcpTransitionMs) return DropReason.NotOwner;
            if (!isTcp && s.Buckets.HeldByLiveNode(h, s.Table, now, s.UdpTransitionMs)) return DropReason.NotOwner;
            if (!worker.AdmitNewFlow(now)) return DropReason.NewFlowRateExceeded;
            var state = FlowTable.InitialState(isTcp, tcpFlags);
            // No backend id: the node serves its flows itself, and a backend's counts (the tally) must not hold them.
            if (Unsafe.IsNullRef(ref flow)) flow = ref flows.Insert(key, hash, NoBackend, state, now);
            else flows.SetState(ref flow, state);
            worker.Counters.ServiceFlows[service.Id]++;
        }
        else
        {
            flows.SetState(ref flow, FlowTable.Advance(flow.State, isTcp, tcpFlags));
        }
        flow.LastSeenMs = now;
        return DropReason.None;
    }
}
