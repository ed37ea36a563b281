using System.Net;

namespace LoadBalancer.Core.Model;

/// <summary>What keepalived has made of this balancer: only a master answers ARP for the VIPs. <c>fault</c>
/// behaves as backup; it is kept apart so status says why.</summary>
public enum HaRole
{
    Backup,
    Master,
    Fault,
}

/// <summary>The <c>ha:</c> section: this engine is one of an active/standby pair whose roles keepalived decides
/// (VRRP is keepalived's job; it tells the engine through <c>lb ha master|backup|fault</c>).</summary>
public sealed record HaConfig
{
    public const int DefaultGarpCount = 3;
    public static readonly TimeSpan DefaultGarpInterval = TimeSpan.FromSeconds(1);

    /// <summary>The role before keepalived says anything (<c>initial_role</c>): backup unless told otherwise,
    /// so a restarted engine never fights the running master over ARP.</summary>
    public HaRole InitialRole { get; init; } = HaRole.Backup;
    /// <summary>Gratuitous ARPs a new master sends for each VIP (<c>garp.count</c>, keepalived's
    /// <c>garp_master_repeat</c> idea), <see cref="GarpInterval"/> apart.</summary>
    public int GarpCount { get; init; } = DefaultGarpCount;
    public TimeSpan GarpInterval { get; init; } = DefaultGarpInterval;
    /// <summary>State sync with the peer (<c>sync:</c>); without it a failover keeps only what Maglev keeps.</summary>
    public HaSyncConfig? Sync { get; init; }
    public int Line { get; init; }
}

/// <summary>The <c>ha.sync:</c> section: where the pair sends each other flow-table entries and NAT sessions.</summary>
public sealed record HaSyncConfig
{
    /// <summary>IPVS's sync daemon port.</summary>
    public const int DefaultPort = 8848;

    /// <summary>The other balancer's address; messages from anywhere else are refused and counted.</summary>
    public required IPAddress Peer { get; init; }
    public int Port { get; init; } = DefaultPort;
    /// <summary>Where to send and receive sync (<c>interface</c>); null: the route to <see cref="Peer"/>.</summary>
    public string? Interface { get; init; }
    /// <summary>The shared secret's file (<c>key_file</c>); null: messages are not authenticated.</summary>
    public string? KeyFile { get; init; }
    /// <summary>The 32-byte HMAC-SHA256 key read from <see cref="KeyFile"/> when the config was loaded.</summary>
    public byte[]? Key { get; init; }
    public int Line { get; init; }
}
