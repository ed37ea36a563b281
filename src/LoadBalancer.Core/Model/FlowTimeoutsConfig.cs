using LoadBalancer.Core.Flows;

namespace LoadBalancer.Core.Model;

/// <summary>Idle timeouts as written: the engine's <c>flow_timeouts:</c> (how long the flow table DR and
/// CLUSTERIP use remembers a flow) and a NAT service's <c>timeouts:</c> (how long its sessions live). Both
/// are idle timeouts of flows, hence one type; the defaults are <see cref="FlowTimeouts.Default"/>'s.</summary>
public sealed record FlowTimeoutsConfig
{
    public static readonly FlowTimeoutsConfig Default = new();

    public TimeSpan TcpSyn { get; init; } = TimeSpan.FromMilliseconds(FlowTimeouts.Default.TcpSynMs);
    public TimeSpan TcpEstablished { get; init; } = TimeSpan.FromMilliseconds(FlowTimeouts.Default.TcpEstablishedMs);
    public TimeSpan TcpClosing { get; init; } = TimeSpan.FromMilliseconds(FlowTimeouts.Default.TcpClosingMs);
    public TimeSpan Udp { get; init; } = TimeSpan.FromMilliseconds(FlowTimeouts.Default.UdpMs);

    public FlowTimeouts ToFlowTimeouts() => new((long)TcpSyn.TotalMilliseconds, (long)TcpEstablished.TotalMilliseconds,
        (long)TcpClosing.TotalMilliseconds, (long)Udp.TotalMilliseconds);
}
