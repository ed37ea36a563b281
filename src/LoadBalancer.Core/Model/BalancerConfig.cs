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

/// <summary>A group as the group database (getgrnam) gave it when the config was read.</summary>
public sealed record UnixGroup(string Name, uint Gid);
