namespace LoadBalancer.Core.Flows;

/// <summary>Idle timeouts in milliseconds, per protocol and TCP state: how long the flow table remembers a
/// flow (<c>flow_timeouts:</c>) and how long a NAT session lives without traffic (a service's <c>timeouts:</c>).
/// <see cref="Default"/> is the one source of the documented defaults; the config reads its own from here.</summary>
public readonly record struct FlowTimeouts(long TcpSynMs, long TcpEstablishedMs, long TcpClosingMs, long UdpMs)
{
    /// <summary>SYN 10 s, established 900 s, closing (FIN/RST seen) 30 s, UDP 60 s.</summary>
    public static readonly FlowTimeouts Default = new(10_000, 900_000, 30_000, 60_000);

    public long For(FlowState state) => state switch
    {
        FlowState.TcpSyn => TcpSynMs,
        FlowState.TcpEstablished => TcpEstablishedMs,
        FlowState.TcpClosing => TcpClosingMs,
        FlowState.Udp => UdpMs,
        _ => 0,
    };
}
