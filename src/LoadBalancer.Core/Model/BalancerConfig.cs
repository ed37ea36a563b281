namespace LoadBalancer.Core.Model;

/// <summary>The configuration exactly as the operator wrote it (after validation). Line numbers are
/// kept so later errors (at runtime, too) can point at the file.</summary>
public sealed record BalancerConfig
{
    public const string DefaultControlSocket = "/run/lb/lb.sock";
    public const uint DefaultHashSeed = 0x5EED;
    public const int DefaultFlowTableSize = 1 << 20;
    public const int DefaultSessionTableSize = 1 << 18;

    public uint HashSeed { get; init; } = DefaultHashSeed;
    public int Workers { get; init; } = 1;
    /// <summary>CPUs the workers are pinned to (<c>cpus:</c>), worker i on <c>Cpus[i % Cpus.Count]</c>; empty: not pinned.</summary>
    public IReadOnlyList<int> Cpus { get; init; } = [];
    public string ControlSocket { get; init; } = DefaultControlSocket;
    /// <summary>The group the control socket is given to (<c>control_group:</c>): its members may connect, so
    /// <c>lb status</c> works for them; null: the engine's own group. The socket is mode 0660 either way.</summary>
    public UnixGroup? ControlGroup { get; init; }
    /// <summary>The group whose members may also send requests that change the engine (<c>control_admin_group:</c>),
    /// besides root and the engine's own user; null: only those two.</summary>
    public UnixGroup? ControlAdminGroup { get; init; }
    public int FlowTableSize { get; init; } = DefaultFlowTableSize;
    /// <summary>Idle timeouts of the flow table (<c>flow_timeouts</c>): how long DR and CLUSTERIP remember a flow.
    /// Global, as IPVS's <c>ipvsadm --set</c>; NAT services have their own <c>timeouts</c>.</summary>
    public FlowTimeoutsConfig FlowTimeouts { get; init; } = FlowTimeoutsConfig.Default;
    /// <summary>NAT sessions per worker (<c>session_table_size</c>). When full, new flows are dropped and counted.</summary>
    public int SessionTableSize { get; init; } = DefaultSessionTableSize;
    /// <summary>New flows per second per worker (<c>new_flow_rate</c>), beyond which new flows are dropped and
    /// counted (<c>new_flow_rate_exceeded</c>); null: uncapped.</summary>
    public int? NewFlowRate { get; init; }
    public int MaglevTableSize { get; init; } = Scheduling.MaglevTable.DefaultSize;
    public IReadOnlyList<ServiceConfig> Services { get; init; } = [];
    /// <summary>One of an active/standby pair (<c>ha:</c>); null: a lone balancer that always claims its VIPs.</summary>
    public HaConfig? Ha { get; init; }
    /// <summary>Route announcement (<c>announce:</c>): the kernel table announced VIPs are put in, for the operator's
    /// routing daemon to export; null when the engine announces nothing.</summary>
    public AnnounceConfig? Announce { get; init; }
    /// <summary>The engine's HTTP listener (<c>http:</c>): metrics, the status page and its JSON; null: none.</summary>
    public HttpConfig? Http { get; init; }
    /// <summary>How frames reach the workers (<c>io:</c>): AF_PACKET rings (the default), AF_XDP sockets, or AF_XDP
    /// where the interface's driver takes it.</summary>
    public FrameIo Io { get; init; } = FrameIo.AfPacket;
    /// <summary>The AF_XDP port's settings (<c>xdp:</c>), used when <see cref="Io"/> is not <see cref="FrameIo.AfPacket"/>.</summary>
    public XdpConfig Xdp { get; init; } = XdpConfig.Default;
    public string? SourcePath { get; init; }
    /// <summary>The line of each top-level key present in the file (for a reload's refusals); empty when built in code.</summary>
    public IReadOnlyDictionary<string, int> KeyLines { get; init; } = EmptyKeyLines;

    internal static readonly IReadOnlyDictionary<string, int> EmptyKeyLines = new Dictionary<string, int>();
}


/// <summary><c>http: {listen: ADDRESS:PORT}</c>: where the engine serves <c>/metrics</c>, <c>/</c> and <c>/status.json</c>.</summary>
public sealed record HttpConfig
{
    public required System.Net.IPEndPoint Listen { get; init; }
    public int Line { get; init; }
}

/// <summary><c>io:</c> the frame port the workers read and write (modes.md, "Frame ports").</summary>
public enum FrameIo
{
    AfPacket,
    AfXdp,
    /// <summary>AF_XDP where every served interface takes native XDP, else AF_PACKET (one log line says why).</summary>
    Auto,
}

/// <summary><c>xdp: {mode, zero_copy, frames}</c>.</summary>
public sealed record XdpConfig
{
    public const int DefaultFrames = 4096;
    public static readonly XdpConfig Default = new();

    /// <summary>Native (in the driver) or generic (after the kernel built an skb: any interface, little gain).</summary>
    public XdpAttachMode Mode { get; init; } = XdpAttachMode.Native;
    public XdpZeroCopy ZeroCopy { get; init; } = XdpZeroCopy.Auto;
    /// <summary>UMEM frames per worker (2 KiB each), shared by its sockets' fill, RX and TX rings.</summary>
    public int Frames { get; init; } = DefaultFrames;
    public int Line { get; init; }

    /// <summary>Why the AF_XDP port cannot carry this service (null: it can). Its XDP program steers frames to a VIP
    /// (IPv4 or IPv6, a CLUSTERIP one included) and a NAT service's backend replies; but under AF_XDP each worker reads a
    /// receive queue of its own, and the NIC, not the engine's fanout on the client, picks a frame's queue: a backend's
    /// reply could reach a worker that does not hold its session.</summary>
    public static string? WhyNotCarried(ServiceConfig s, int workers) =>
        s.Mode == ForwardingMode.Nat && workers > 1
            ? $"does not carry a NAT service with workers: {workers} (the NIC's receive queue, not the engine, picks a frame's worker, " +
              "so a backend's reply could reach a worker without its session)"
            : null;
}

public enum XdpAttachMode
{
    Native,
    Generic,
}

/// <summary>Zero-copy (the NIC DMAs into the UMEM) when the driver offers it: <c>auto</c> asks and falls back to copy
/// mode, <c>on</c> refuses to start without it, <c>off</c> always copies.</summary>
public enum XdpZeroCopy
{
    Auto,
    On,
    Off,
}

/// <summary>A group as the group database (getgrnam) gave it when the config was read.</summary>
public sealed record UnixGroup(string Name, uint Gid);
