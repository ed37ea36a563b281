namespace LoadBalancer.Core.Model;

/// <summary>The words the config, `lb status` and the control socket use for each enumerated value: one
/// table per type, in the order error messages list them, read both ways.</summary>
public static class ModeNames
{
    public static readonly (string Name, ForwardingMode Value)[] Modes =
        [("dr", ForwardingMode.DirectRouting), ("nat", ForwardingMode.Nat), ("clusterip", ForwardingMode.ClusterIp)];
    public static readonly (string Name, TransportProtocol Value)[] Protocols = [("tcp", TransportProtocol.Tcp), ("udp", TransportProtocol.Udp)];
    public static readonly (string Name, ClusterHash Value)[] ClusterHashes =
    [
        ("sourceip", ClusterHash.SourceIp), ("sourceip-sourceport", ClusterHash.SourceIpSourcePort),
        ("sourceip-sourceport-destport", ClusterHash.SourceIpSourcePortDestinationPort),
    ];
    public static readonly (string Name, BackendDownAction Value)[] BackendDownActions =
        [("reassign", BackendDownAction.Reassign), ("drop", BackendDownAction.Drop), ("keep", BackendDownAction.Keep)];
    public static readonly (string Name, AllDownAction Value)[] AllDownActions = [("drop", AllDownAction.Drop), ("use_all", AllDownAction.UseAll)];
    public static readonly (string Name, SchedulerKind Value)[] Schedulers = [("maglev", SchedulerKind.Maglev), ("wlc", SchedulerKind.Wlc), ("wrr", SchedulerKind.Wrr)];
    public static readonly (string Name, HealthCheckType Value)[] HealthCheckTypes =
    [
        ("tcp", HealthCheckType.Tcp), ("http", HealthCheckType.Http), ("https", HealthCheckType.Https),
        ("udp", HealthCheckType.Udp), ("exec", HealthCheckType.Exec), ("none", HealthCheckType.None),
    ];
    public static readonly (string Name, BackendHealth Value)[] Healths =
        [("unknown", BackendHealth.Unknown), ("healthy", BackendHealth.Healthy), ("unhealthy", BackendHealth.Unhealthy)];
    public static readonly (string Name, BackendIntent Value)[] Intents = [("active", BackendIntent.Active), ("draining", BackendIntent.Draining)];
    public static readonly (string Name, FrameIo Value)[] FrameIos = [("af_packet", FrameIo.AfPacket), ("af_xdp", FrameIo.AfXdp), ("auto", FrameIo.Auto)];
    public static readonly (string Name, XdpAttachMode Value)[] XdpAttachModes = [("native", XdpAttachMode.Native), ("generic", XdpAttachMode.Generic)];
    public static readonly (string Name, XdpZeroCopy Value)[] XdpZeroCopies = [("auto", XdpZeroCopy.Auto), ("on", XdpZeroCopy.On), ("off", XdpZeroCopy.Off)];
    public static readonly (string Name, HaRole Value)[] HaRoles = [("backup", HaRole.Backup), ("master", HaRole.Master), ("fault", HaRole.Fault)];

    public static string Name(ForwardingMode mode) => NameIn(Modes, mode);
    public static string Name(TransportProtocol protocol) => NameIn(Protocols, protocol);
    public static string Name(ClusterHash hash) => NameIn(ClusterHashes, hash);
    public static string Name(BackendDownAction action) => NameIn(BackendDownActions, action);
    public static string Name(AllDownAction action) => NameIn(AllDownActions, action);
    public static string Name(SchedulerKind scheduler) => NameIn(Schedulers, scheduler);
    public static string Name(HealthCheckType type) => NameIn(HealthCheckTypes, type);
    public static string Name(BackendHealth health) => NameIn(Healths, health);
    public static string Name(BackendIntent intent) => NameIn(Intents, intent);
    public static string Name(HaRole role) => NameIn(HaRoles, role);
    public static string Name(FrameIo io) => NameIn(FrameIos, io);
    public static string Name(XdpAttachMode mode) => NameIn(XdpAttachModes, mode);

    /// <summary>The value <paramref name="name"/> stands for in <paramref name="table"/>.</summary>
    public static bool TryParse<T>((string Name, T Value)[] table, string? name, out T value) where T : struct, Enum
    {
        foreach (var (n, v) in table)
        {
            if (n != name) continue;
            value = v;
            return true;
        }
        value = default;
        return false;
    }

    private static string NameIn<T>((string Name, T Value)[] table, T value) where T : struct, Enum
    {
        foreach (var (n, v) in table)
            if (EqualityComparer<T>.Default.Equals(v, value)) return n;
        return value.ToString().ToLowerInvariant();
    }
}
