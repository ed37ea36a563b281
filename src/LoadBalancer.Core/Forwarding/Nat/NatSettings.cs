using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>What a NAT service needs beyond what every service has, bound when its snapshot is built.</summary>
/// <param name="Timeouts">Idle timeouts of its sessions (<c>timeouts:</c>).</param>
/// <param name="TcpPickup">Open sessions from mid-stream TCP packets too (<c>tcp_pickup</c>).</param>
/// <param name="GatewayNeighborIndex">Neighbour slot of the configured <c>gateway</c> (the clients' next hop),
/// or -1 to answer each client through the MAC its frames came from.</param>
/// <param name="HashSeed">The engine's <c>hash_seed</c>, for the reply direction's hash.</param>
public sealed record NatSettings(FlowTimeouts Timeouts, bool TcpPickup, int GatewayNeighborIndex, uint HashSeed)
{
    /// <summary>The settings of NAT service <paramref name="service"/>; registers its gateway in the neighbour
    /// table so ARP resolves it.</summary>
    public static NatSettings Bind(ServiceConfig service, BalancerConfig config, NeighborTable neighbors, InterfacePlan interfaces) =>
        new(service.Timeouts.ToFlowTimeouts(), service.TcpPickup,
            service.Gateway is { } gateway ? neighbors.Register(interfaces.IndexOf(service.Interface), Ipv4.ToUInt32(gateway), null) : -1,
            config.HashSeed);

    /// <summary>A session for client flow <paramref name="key"/> (hashed <paramref name="hash"/>) to
    /// <paramref name="backend"/>: the reply side's key and hash derived, this service's timeouts. What a new client
    /// flow opens and what a copy from the HA peer installs.</summary>
    public NatSession NewSession(in FlowKey key, uint hash, ServiceSnapshot service, BackendSnapshot backend, MacAddress clientHop,
        FlowState state, long lastSeenMs)
    {
        var reply = new FlowKey(key.Protocol, backend.Address, key.SourceAddress, backend.Port, key.SourcePort);
        return new NatSession
        {
            Forward = key,
            ForwardHash = hash,
            Reverse = reply,
            ReverseHash = FlowHash.Compute(reply, HashSeed),
            ServiceId = service.Id,
            BackendId = backend.Id,
            ClientHop = clientHop,
            State = state,
            LastSeenMs = lastSeenMs,
            Timeouts = Timeouts,
        };
    }

    /// <summary>Where a reply goes on the client side: the configured gateway (zero while unresolved), else the
    /// hop the client's frames came from.</summary>
    public MacAddress ReplyNextHop(NeighborTable neighbors, in NatSession session) =>
        GatewayNeighborIndex >= 0 ? neighbors.Mac(GatewayNeighborIndex) : session.ClientHop;
}
