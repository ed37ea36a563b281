using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Model;

/// <summary>Turns validated config into a data-plane snapshot. Runs on the control plane only:
/// building a Maglev table allocates and takes milliseconds.</summary>
public sealed class SnapshotBuilder
{
    private readonly Dictionary<(string Service, string Backend), int> _backendIds = new();
    private readonly Dictionary<string, (ClusterTable? Table, ClusterBucketHistory? Buckets, long ChangedAtMs, bool HadQuorum, bool Participating, long RejoinedAtMs)> _clusters = new();

    /// <summary>The engine's clock for membership-change times (the workers' clock); injectable for tests.</summary>
    public Func<long> Clock { get; set; } = () => Environment.TickCount64;

    /// <summary>CLUSTERIP: the port of the TAP device a service re-injects through (set by the engine).</summary>
    public Func<ServiceConfig, int>? ReinjectPortFor { get; set; }

    /// <summary>A cluster node seen as a backend, so health, intent and the state table treat it like one.</summary>
    public static BackendConfig NodeAsBackend(int id, ClusterConfig cluster) =>
        new() { Name = ClusterTable.NodeName(id), Address = cluster.Nodes.First(n => n.Id == id).Address, Weight = cluster.Nodes.First(n => n.Id == id).Weight };
    private long _version;

    public SnapshotBuilder(NeighborTable neighbors, InterfacePlan interfaces)
    {
        Neighbors = neighbors;
        Interfaces = interfaces;
    }

    public NeighborTable Neighbors { get; }
    public InterfacePlan Interfaces { get; }

    /// <summary>Id for a backend, stable for the life of the process: the same service and backend
    /// name always map to the same id, so flows survive reloads and reorderings.</summary>
    public int BackendId(string service, string backend)
    {
        if (!_backendIds.TryGetValue((service, backend), out var id))
        {
            id = _backendIds.Count;
            _backendIds[(service, backend)] = id;
        }
        return id;
    }

    /// <exception cref="InvalidOperationException">The config does not fit the workers' fixed-size counters
    /// (more than <see cref="WorkerCounters.MaxServices"/> services, or a backend id at or beyond
    /// <see cref="WorkerCounters.MaxBackendIds"/>). The packet path indexes those arrays by service index and
    /// backend id, so such a snapshot must never be published.</exception>
    /// <param name="runtime">Health and operator state per backend; null means the config alone
    /// (active, configured weight, health <see cref="DefaultRuntime"/>).</param>
    public DataPlaneSnapshot Build(BalancerConfig config, Func<ServiceConfig, BackendConfig, BackendRuntime>? runtime = null)
    {
        if (config.Services.Count > WorkerCounters.MaxServices)
            throw new InvalidOperationException($"{config.Services.Count} services configured; at most {WorkerCounters.MaxServices} are supported");
        var services = new ServiceSnapshot[config.Services.Count];
        for (var s = 0; s < services.Length; s++)
        {
            var sc = config.Services[s];
            var backends = new BackendSnapshot[sc.Backends.Count];
            var maxId = -1;
            for (var b = 0; b < backends.Length; b++)
            {
                var bc = sc.Backends[b];
                var address = Ipv4.ToUInt32(bc.Address);
                var id = BackendId(sc.Name, bc.Name);
                if (id >= WorkerCounters.MaxBackendIds)
                    throw new InvalidOperationException(
                        $"backend {sc.Name}/{bc.Name} would get id {id}, but ids (never reused while the process runs) " +
                        $"must stay below {WorkerCounters.MaxBackendIds}; restart the balancer to renumber backends");
                var state = runtime?.Invoke(sc, bc) ?? DefaultRuntime(sc, bc);
                backends[b] = new BackendSnapshot
                {
                    Id = id,
                    Name = bc.Name,
                    Address = address,
                    Port = bc.Port ?? sc.Port,
                    Weight = state.Weight,
                    Health = state.Health,
                    Intent = state.Intent,
                    SoftStopped = state.SoftStopped,
                    IsBackup = bc.Backup,
                    NeighborIndex = Neighbors.Register(Interfaces.IndexOf(sc.EffectiveBackendInterface), address, bc.Mac),
                };
                maxId = Math.Max(maxId, backends[b].Id);
            }
            var slotById = new int[maxId + 1];
            Array.Fill(slotById, -1);
            for (var b = 0; b < backends.Length; b++) slotById[backends[b].Id] = b;
            ClusterTable? cluster = null;
            ClusterBucketHistory? buckets = null;
            var clusterChangedAt = 0L;
            var clusterRejoinedAt = long.MinValue;
            var clusterHasQuorum = true;
            if (sc.Cluster is { } cc)
            {
                // A node is alive when its health (as a backend-like target named node-<id>) says so.
                bool Alive(int id) => (runtime?.Invoke(sc, NodeAsBackend(id, cc)) ?? DefaultRuntime(sc, NodeAsBackend(id, cc))).Health == BackendHealth.Healthy;
                // Quorum: a node that sees fewer than a majority of the cluster alive (itself included) is most
                // likely the one cut off. It takes over nothing and keeps only its own share (the table with
                // every node), so that when it comes back it does not accept flows the others now own.
                // Two-node clusters have no majority to lose: there the survivor takes over.
                var alive = cc.Nodes.Count(n => Alive(n.Id));
                var quorum = cc.Nodes.Count >= 3 ? cc.Nodes.Count / 2 + 1 : 1;
                var hasQuorum = alive >= quorum;
                cluster = ClusterTable.Build(cc.Nodes, hasQuorum ? Alive : _ => true, config.MaglevTableSize);
                _clusters.TryGetValue(sc.Name, out var last);
                // Any membership change, and gaining or losing quorum even when the table looks the same (a cold
                // start, being cut off, coming back), starts a transition: a node cannot tell whether it was the
                // one cut off while others took over its buckets, and the owners of established flows remember
                // them anyway. Losing quorum counts too: in the moments after a cut-off node is reconnected,
                // before its checks see the others again, its buckets may carry flows the others accepted meanwhile.
                var changed = last.Table is null || last.Table.Digest != cluster.Digest || hasQuorum != last.HadQuorum;
                buckets = last.Buckets ?? ClusterBucketHistory.Empty(cluster.Size);
                clusterChangedAt = last.ChangedAtMs;
                if (changed)
                {
                    var now = Clock();
                    clusterChangedAt = now;
                    if (last.Table is not null) buckets = buckets.After(last.Table, cc.LocalNode, now);
                    // Coming into a majority (a cold start, or back from being cut off): the others may have been
                    // serving without this node, with a table that gave its buckets to them.
                    if (hasQuorum && (last.Table is null || !last.HadQuorum))
                        buckets = buckets.After(ClusterTable.Build(cc.Nodes, id => id != cc.LocalNode && Alive(id), config.MaglevTableSize), cc.LocalNode, now);
                }
                // Rejoining (a majority in view and this node alive in it, after either was missing): the UDP flows
                // it remembers from before may have been taken over by others meanwhile, which now remember them.
                var participating = hasQuorum && Alive(cc.LocalNode);
                clusterRejoinedAt = last.RejoinedAtMs;
                if (participating && !last.Participating && last.Table is not null) clusterRejoinedAt = Clock();
                _clusters[sc.Name] = (cluster, buckets, clusterChangedAt, hasQuorum, participating, clusterRejoinedAt);
                clusterHasQuorum = hasQuorum;
            }
            var (tableWeights, allDown) = TableWeights(sc, backends);
            for (var b = 0; b < backends.Length; b++) backends[b].TableWeight = tableWeights[b];
            var table = MaglevTable.Build(backends.Select((b, i) => new MaglevBackend(b.Name, tableWeights[i])).ToArray(), config.MaglevTableSize);
            services[s] = new ServiceSnapshot
            {
                Index = s,
                Name = sc.Name,
                Vip = Ipv4.ToUInt32(sc.Vip),
                Port = sc.Port,
                Protocol = (byte)sc.Protocol,
                Mode = sc.Mode,
                IngressPort = Interfaces.IndexOf(sc.Interface),
                EgressPort = Interfaces.IndexOf(sc.EffectiveBackendInterface),
                Backends = backends,
                Table = table,
                SlotById = slotById,
                OnBackendDown = sc.OnBackendDown,
                AllDown = allDown,
                Forwarder = sc.Mode switch
                {
                    ForwardingMode.DirectRouting => DirectRoutingForwarder.Instance,
                    ForwardingMode.Nat => NatForwarder.Instance,
                    ForwardingMode.ClusterIp => null,
                    _ => throw new InvalidOperationException($"service {sc.Name}: mode {ModeNames.Name(sc.Mode)} is not implemented"),
                },
                SessionTimeouts = sc.Timeouts.ToFlowTimeouts(),
                TcpPickup = sc.TcpPickup,
                Cluster = cluster,
                ClusterChangedAtMs = clusterChangedAt,
                // The transitions last as long as the flows they protect are remembered (the flow table's timeouts).
                ClusterTcpTransitionMs = (long)config.FlowTimeouts.TcpEstablished.TotalMilliseconds,
                ClusterBuckets = buckets,
                ClusterUdpTransitionMs = (long)config.FlowTimeouts.Udp.TotalMilliseconds,
                ClusterRejoinedAtMs = clusterRejoinedAt,
                ClusterHasQuorum = clusterHasQuorum,
                LocalNode = sc.Cluster?.LocalNode ?? 0,
                ClusterMac = sc.Cluster?.Mac ?? default,
                ClusterHash = sc.Cluster?.Hash ?? ClusterHash.SourceIpSourcePort,
                ReinjectPort = sc.Mode == ForwardingMode.ClusterIp && ReinjectPortFor is { } reinject ? reinject(sc) : -1,
                GatewayNeighborIndex = sc.Mode == ForwardingMode.Nat && sc.Gateway is { } gateway
                    ? Neighbors.Register(Interfaces.IndexOf(sc.Interface), Ipv4.ToUInt32(gateway), null)
                    : -1,
            };
        }
        var natBackendPorts = 0UL;
        foreach (var s in services)
            if (s.Mode == ForwardingMode.Nat && s.EgressPort < 64) natBackendPorts |= 1UL << s.EgressPort;
        return new DataPlaneSnapshot { Version = ++_version, HashSeed = config.HashSeed, Services = services, NatBackendPorts = natBackendPorts };
    }

    /// <summary>A backend's state from the config alone: active at its configured weight; healthy when the
    /// service has no health check, else the check's initial health.</summary>
    public static BackendRuntime DefaultRuntime(ServiceConfig service, BackendConfig backend) =>
        new(service.Health.Type == HealthCheckType.None ? BackendHealth.Healthy : service.Health.Initial, BackendIntent.Active, backend.Weight);

    /// <summary>Which backends get new flows, with what weight. A backend is a candidate when it is active,
    /// not soft-stopped, with weight &gt; 0, and usable when it is also healthy. Usable normal backends take all new flows;
    /// only when none is usable do usable backups; when nothing is usable the service drops new flows or,
    /// with <c>when_all_down: use_all</c>, balances over every candidate regardless of health.</summary>
    internal static (int[] Weights, bool AllDown) TableWeights(ServiceConfig service, BackendSnapshot[] backends)
    {
        var weights = new int[backends.Length];
        bool Candidate(BackendSnapshot b) => b.Intent == BackendIntent.Active && !b.SoftStopped && b.Weight > 0;
        bool Usable(BackendSnapshot b) => Candidate(b) && b.Health == BackendHealth.Healthy;
        var anyPrimary = backends.Any(b => !b.IsBackup && Usable(b));
        var anyBackup = backends.Any(b => b.IsBackup && Usable(b));
        for (var i = 0; i < backends.Length; i++)
        {
            var b = backends[i];
            var inTable = anyPrimary ? !b.IsBackup && Usable(b)
                : anyBackup ? b.IsBackup && Usable(b)
                : service.WhenAllDown == AllDownAction.UseAll && Candidate(b);
            weights[i] = inTable ? b.Weight : 0;
        }
        return (weights, !anyPrimary && !anyBackup);
    }
}

/// <summary>A backend's runtime state, as the snapshot builder consumes it.</summary>
/// <param name="SoftStopped">The backend's own health check asked for a drain (see <see cref="HealthCheckConfig.SoftStopStatus"/>).</param>
public readonly record struct BackendRuntime(BackendHealth Health, BackendIntent Intent, int Weight, bool SoftStopped = false);

/// <summary>The distinct interfaces the engine uses, each with a small index ("port") and its MAC.</summary>
public sealed class InterfacePlan
{
    private readonly List<string> _names = new();
    private readonly List<MacAddress> _macs = new();
    private readonly List<uint> _addresses = new();
    private readonly List<int> _mtus = new();

    public int Add(string name, MacAddress mac, uint address, int mtu = 1500)
    {
        var i = _names.IndexOf(name);
        if (i >= 0) return i;
        _names.Add(name);
        _macs.Add(mac);
        _addresses.Add(address);
        _mtus.Add(mtu);
        return _names.Count - 1;
    }

    /// <summary>The interface's MTU: NAT answers larger frames with fragmentation-needed.</summary>
    public int Mtu(int port) => _mtus[port];

    public int IndexOf(string name)
    {
        var i = _names.IndexOf(name);
        return i >= 0 ? i : throw new InvalidOperationException($"interface {name} is not part of the plan");
    }

    public int Count => _names.Count;
    public string Name(int port) => _names[port];
    public MacAddress Mac(int port) => _macs[port];
    /// <summary>The interface's own IPv4 address (0 if it has none); used as the sender of ARP requests.</summary>
    public uint Address(int port) => _addresses[port];
}
