using System.Runtime.CompilerServices;

namespace LoadBalancer.Core.Flows;

/// <summary>Idle timeouts in milliseconds, per protocol and TCP state: how long the flow table remembers a
/// flow (<c>flow_timeouts:</c>) and how long a NAT session lives without traffic (a service's <c>timeouts:</c>).
/// <see cref="Default"/> is the one source of the documented defaults; the config reads its own from here.</summary>
public readonly record struct FlowTimeouts(long TcpSynMs, long TcpEstablishedMs, long TcpClosingMs, long UdpMs)
{
    /// <summary>SYN 10 s, established 900 s, closing (FIN/RST seen) 30 s, UDP 60 s.</summary>
    public static readonly FlowTimeouts Default = new(10_000, 900_000, 30_000, 60_000);

    // Every flow and session lookup asks this. The JIT does not inline a method holding a switch, so the hot
    // case comes first in plain branches.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long For(FlowState state)
    {
        if (state == FlowState.TcpEstablished) return TcpEstablishedMs;
        if (state == FlowState.Udp) return UdpMs;
        if (state == FlowState.TcpSyn) return TcpSynMs;
        return state == FlowState.TcpClosing ? TcpClosingMs : 0;
    }
}
