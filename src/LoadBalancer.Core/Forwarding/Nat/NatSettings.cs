using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>What a NAT service needs beyond what every service has, bound when its snapshot is built.</summary>
/// <param name="Timeouts">Idle timeouts of its sessions (<c>timeouts:</c>).</param>
/// <param name="TcpPickup">Open sessions from mid-stream TCP packets too (<c>tcp_pickup</c>).</param>
/// <param name="GatewayNeighborIndex">Neighbour slot of the configured <c>gateway</c> (the clients' next hop; an
/// IPv6 service's gateway is an IPv6 neighbour, resolved by neighbour discovery), or -1 to answer each client
/// through the MAC its frames came from.</param>
/// <param name="HashSeed">The engine's <c>hash_seed</c>, for the reply direction's hash.</param>
public sealed record NatSettings(FlowTimeouts Timeouts, bool TcpPickup, int GatewayNeighborIndex, uint HashSeed)
{
    /// <summary>The settings of NAT service <paramref name="service"/>; registers its gateway in the neighbour
    /// table so ARP (or, for an IPv6 gateway, neighbour discovery) resolves it.</summary>
    public static NatSettings Bind(ServiceConfig service, BalancerConfig config, NeighborTable neighbors, InterfacePlan interfaces) =>
        new(service.Timeouts.ToFlowTimeouts(), service.TcpPickup, Gateway(service, neighbors, interfaces), config.HashSeed);

    private static int Gateway(ServiceConfig service, NeighborTable neighbors, InterfacePlan interfaces)
    {
        if (service.Gateway is not { } gateway) return -1;
        var index = interfaces.IndexOf(service.Interface);
        return gateway.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? neighbors.Register6(index, Ipv6.ToUInt128(gateway), null)
            : neighbors.Register(index, Ipv4.ToUInt32(gateway), null);
    }

    /// <summary>A session for client flow <paramref name="key"/> (hashed <paramref name="hash"/>) to
    /// <paramref name="backend"/>: the reply side's key and hash derived, this service's timeouts. What a new client
    /// flow opens and what a copy from the HA peer installs.</summary>
    public NatSession<FlowKey> NewSession(in FlowKey key, uint hash, ServiceSnapshot service, BackendSnapshot backend, MacAddress clientHop,
        FlowState state, long lastSeenMs)
    {
        var reply = new FlowKey(key.Protocol, backend.Address, key.SourceAddress, backend.Port, key.SourcePort);
        return Session(key, hash, reply, FlowHash.Compute(reply, HashSeed), service, backend, clientHop, state, lastSeenMs);
    }

    /// <summary>The IPv6 session (NAT66) for client flow <paramref name="key"/>, as <see cref="NewSession"/> for IPv4.</summary>
    public NatSession<FlowKey6> NewSession6(in FlowKey6 key, uint hash, ServiceSnapshot service, BackendSnapshot backend, MacAddress clientHop,
        FlowState state, long lastSeenMs)
    {
        var reply = new FlowKey6(key.Protocol, backend.Address6, key.SourceAddress, backend.Port, key.SourcePort);
        return Session(key, hash, reply, FlowHash.Compute6(reply, HashSeed), service, backend, clientHop, state, lastSeenMs);
    }

    private NatSession<TKey> Session<TKey>(in TKey key, uint hash, in TKey reply, uint replyHash, ServiceSnapshot service, BackendSnapshot backend,
        MacAddress clientHop, FlowState state, long lastSeenMs) where TKey : struct, IEquatable<TKey> =>
        new()
        {
            Forward = key,
            ForwardHash = hash,
            Reverse = reply,
            ReverseHash = replyHash,
            ServiceId = service.Id,
            BackendId = backend.Id,
            ClientHop = clientHop,
            State = state,
            LastSeenMs = lastSeenMs,
            Timeouts = Timeouts,
        };

    /// <summary>Where a reply goes on the client side: the configured gateway (zero while unresolved), else the
    /// hop the client's frames came from.</summary>
    public MacAddress ReplyNextHop<TKey>(NeighborTable neighbors, in NatSession<TKey> session) where TKey : struct, IEquatable<TKey> =>
        GatewayNeighborIndex >= 0 ? neighbors.Mac(GatewayNeighborIndex) : session.ClientHop;
}
