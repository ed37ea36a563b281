using System.Net;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting.Platform;

namespace LoadBalancer.Hosting;

/// <summary>One interface's ingress drop: the VIPs served on it (each family apart), and the replies of backends
/// reached through it that the engine translates (NAT).</summary>
public sealed record IngressDropRule(int Interface, uint[] Vips, ReplyFilter[] Replies)
{
    public UInt128[] Vips6 { get; init; } = [];

    /// <summary>The same interface, VIPs and replies, in any order.</summary>
    public bool SameAs(IngressDropRule other) =>
        Interface == other.Interface && Vips.ToHashSet().SetEquals(other.Vips) && Vips6.ToHashSet().SetEquals(other.Vips6)
        && Replies.ToHashSet().SetEquals(other.Replies);

    /// <summary>Everything either rule drops (a reload's rule while both snapshots may be in use).</summary>
    public IngressDropRule Union(IngressDropRule other) =>
        new(Interface, Vips.Union(other.Vips).ToArray(), Replies.Union(other.Replies).ToArray()) { Vips6 = Vips6.Union(other.Vips6).ToArray() };
}

/// <summary>Which interfaces the engine reads and how, what it keeps from the kernel, what it joins and where
/// peers find it: everything the composition root decides per mode, derived once from the config and the first
/// snapshot so it can be unit-tested and read in one place.
/// - every service's client-side interface is read; interfaces where the snapshot bound a reply path (NAT's backend
///   side) are read by the same workers, so both directions of a flow meet the same session table, with the
///   fanout keyed on the client (its address and port are what NAT never changes);
/// - readers of an interface join the multicast MACs its VIPs are announced with (CLUSTERIP);
/// - the ingress drop on each read interface removes its VIPs from the kernel's view and, on a NAT backend side,
///   the NAT backends' replies;
/// - CLUSTERIP nodes listen for their peers' heartbeat on their own node address.</summary>
public sealed record EngineTopology(
    IReadOnlyList<int> Ingress,
    IReadOnlyList<int> Replies,
    IReadOnlyDictionary<int, MacAddress[]> Multicast,
    IReadOnlyList<IngressDropRule> Drops,
    IReadOnlyList<(IPAddress Address, int Port)> Heartbeats)
{
    /// <summary>Frames of a flow meet the worker holding its state: by the client's address and port, read as the
    /// source on a client side and as the destination where replies come back through the engine (NAT's backend
    /// side). Never the kernel's flow hash: its per-boot seed would put a synced flow on another worker.</summary>
    public FanoutKey FanoutFor(int interfaceIndex) =>
        Replies.Contains(interfaceIndex) && !Ingress.Contains(interfaceIndex) ? FanoutKey.ClientIsDestination : FanoutKey.ClientIsSource;

    /// <summary>Null when <paramref name="other"/> reads the same interfaces the same way (the same client and reply
    /// sides, multicast memberships and heartbeats), else what differs, for the operator: the ingress drops may differ,
    /// everything else was opened at start.</summary>
    public string? ReadsLike(EngineTopology other)
    {
        if (!Ingress.ToHashSet().SetEquals(other.Ingress)) return "the client-side interfaces would change";
        if (!Replies.ToHashSet().SetEquals(other.Replies)) return "the NAT backend-side interfaces would change";
        foreach (var (i, macs) in Multicast)
            if (!other.Multicast.TryGetValue(i, out var was) || !macs.ToHashSet().SetEquals(was)) return "the multicast MACs joined would change";
        if (!Heartbeats.ToHashSet().SetEquals(other.Heartbeats)) return "the heartbeat listeners would change";
        return null;
    }

    /// <exception cref="InvalidOperationException">NAT services on more than one client-side interface.</exception>
    public static EngineTopology From(BalancerConfig config, DataPlaneSnapshot snapshot)
    {
        var ingress = snapshot.Services.Select(s => s.IngressInterface).Distinct().ToArray();
        var replies = Enumerable.Range(0, snapshot.ReplyPaths.Length).Where(i => snapshot.ReplyPaths[i] is not null).ToArray();
        if (replies.Length > 0 && ingress.Length > 1)
            throw new InvalidOperationException("NAT services need a single client-side interface for now " +
                                                "(both directions of a flow must reach the same worker)");
        var multicast = ingress.ToDictionary(i => i, i => snapshot.Services
            .Where(s => s.IngressInterface == i && s.VipMac is { IsMulticast: true })
            .Select(s => s.VipMac!.Value).Distinct().ToArray());
        var drops = ingress.Union(replies).Select(i => new IngressDropRule(i,
            snapshot.Ipv4Services.Where(s => s.IngressInterface == i).Select(s => s.Vip).Distinct().ToArray(),
            // On a NAT backend side the engine owns the replies: frames from a backend's address and port.
            snapshot.Services.Where(s => s.Mode == ForwardingMode.Nat && s.EgressInterface == i)
                .SelectMany(s => s.Backends.Select(b => new ReplyFilter(b.Address, s.Protocol, b.Port) { Address6 = b.Address6 }))
                .Distinct().ToArray())
        {
            Vips6 = snapshot.Ipv6Services.Where(s => s.IngressInterface == i).Select(s => s.Vip6).Distinct().ToArray(),
        }).ToArray();
        var heartbeats = config.Services.Where(s => s.Cluster is { HeartbeatPort: > 0 })
            .Select(s => (s.Cluster!.Nodes.First(n => n.Id == s.Cluster.LocalNode).Address, s.Cluster.HeartbeatPort))
            .Distinct().ToArray();
        return new EngineTopology(ingress, replies, multicast, drops, heartbeats);
    }
}
