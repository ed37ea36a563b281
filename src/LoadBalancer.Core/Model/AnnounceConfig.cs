namespace LoadBalancer.Core.Model;

/// <summary>The <c>announce:</c> section: announced VIPs are routes in a kernel table of their own, which the
/// operator's routing daemon (BIRD, FRR, GoBGP) exports by BGP. The engine speaks no BGP.</summary>
public sealed record AnnounceConfig
{
    /// <summary>The kernel routing table (<c>table</c>), 1..252: main (254), local (255) and default (253) are the
    /// kernel's own.</summary>
    public required int Table { get; init; }
    public int Line { get; init; }
}
