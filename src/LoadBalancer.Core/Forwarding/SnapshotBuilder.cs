using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.Core.Forwarding.DirectRouting;
using LoadBalancer.Core.Forwarding.Nat;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Forwarding;

/// <summary>A backend's runtime state, as the snapshot builder consumes it.</summary>
/// <param name="SoftStopped">The backend's own health check asked for a drain (see <see cref="HealthCheckConfig.SoftStopStatus"/>).</param>
public readonly record struct BackendRuntime(BackendHealth Health, BackendIntent Intent, int Weight, bool SoftStopped = false);

/// <summary>Turns validated config and the backends' runtime states into a data-plane snapshot, binding each
/// service's forwarder with its mode's settings (the one place that looks at a service's mode). Runs on the
/// control plane only: building a Maglev table allocates and takes milliseconds. Keeps the state that must
/// outlive one snapshot: stable backend ids and each CLUSTERIP service's <see cref="ClusterMembership"/>.
/// Not thread-safe: its caller serialises builds.</summary>
public sealed class SnapshotBuilder(NeighborTable neighbors, InterfacePlan interfaces, Func<long>? clockMs = null)
{
    private readonly Dictionary<(string Service, string Backend), int> _backendIds = new();
    private readonly Dictionary<string, ClusterMembership> _memberships = new(StringComparer.Ordinal);
    private long _version;

    public NeighborTable Neighbors { get; } = neighbors;
    public InterfacePlan Interfaces { get; } = interfaces;

    /// <summary>The engine's clock for membership-change times (the workers' clock).</summary>
    public Func<long> Clock { get; } = clockMs ?? (() => Environment.TickCount64);

    /// <summary>CLUSTERIP: the interface of the TAP device accepted frames are re-injected through (set by the
    /// engine when it has one), -1 when there is none.</summary>
    public int ReinjectInterface { get; set; } = -1;

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
    /// (<see cref="DefaultRuntime"/>).</param>
    public DataPlaneSnapshot Build(BalancerConfig config, Func<ServiceConfig, BackendConfig, BackendRuntime>? runtime = null)
    {
        if (config.Services.Count > WorkerCounters.MaxServices)
            throw new InvalidOperationException($"{config.Services.Count} services configured; at most {WorkerCounters.MaxServices} are supported");
        runtime ??= DefaultRuntime;
        var services = new ServiceSnapshot[config.Services.Count];
        var nat = new NatSettings?[services.Length];
        for (var s = 0; s < services.Length; s++)
        {
            var sc = config.Services[s];
            var backends = Backends(sc, runtime, out var slotById, out var allDown);
            var table = MaglevTable.Build(backends.Select(b => new MaglevBackend(b.Name, b.TableWeight)).ToArray(), config.MaglevTableSize);
            ClusterIpSettings? cluster = null;
            IForwarder forwarder = sc.Mode switch
            {
                ForwardingMode.DirectRouting => DirectRoutingForwarder.Instance,
                ForwardingMode.Nat => new NatForwarder(nat[s] = NatSettings.Bind(sc, config, Neighbors, Interfaces)),
                ForwardingMode.ClusterIp => new ClusterIpForwarder(cluster = ClusterSettings(sc, config, runtime)),
                _ => throw new InvalidOperationException($"service {sc.Name}: mode {ModeNames.Name(sc.Mode)} is not implemented"),
            };
            services[s] = new ServiceSnapshot
            {
                Index = s,
                Name = sc.Name,
                Vip = Ipv4.ToUInt32(sc.Vip),
                Port = sc.Port,
                Protocol = (byte)sc.Protocol,
                Mode = sc.Mode,
                IngressInterface = Interfaces.IndexOf(sc.Interface),
                EgressInterface = Interfaces.IndexOf(sc.EffectiveBackendInterface),
                VipMac = cluster?.Mac,
                AnswersArp = sc.Arp,
                Announce = sc.Announce,
                Backends = backends,
                Table = table,
                SlotById = slotById,
                Forwarder = forwarder,
                OnBackendDown = sc.OnBackendDown,
                AllDown = allDown,
            };
        }
        var (replyPaths, icmp) = NatReturnPaths(services, nat);
        return new DataPlaneSnapshot
        {
            Version = ++_version, HashSeed = config.HashSeed, Services = services, ReplyPaths = replyPaths, IcmpErrors = icmp,
        };
    }

    /// <summary>A backend's state from the config alone: active at its configured weight; healthy when the
    /// service has no health check, else the check's initial health.</summary>
    public static BackendRuntime DefaultRuntime(ServiceConfig service, BackendConfig backend) =>
        new(service.Health.Type == HealthCheckType.None ? BackendHealth.Healthy : service.Health.Initial, BackendIntent.Active, backend.Weight);

    private BackendSnapshot[] Backends(ServiceConfig sc, Func<ServiceConfig, BackendConfig, BackendRuntime> runtime, out int[] slotById, out bool allDown)
    {
        var count = sc.Backends.Count;
        var states = new BackendRuntime[count];
        var backup = new bool[count];
        for (var b = 0; b < count; b++)
        {
            states[b] = runtime(sc, sc.Backends[b]);
            backup[b] = sc.Backends[b].Backup;
        }
        (var weights, allDown) = BackendSelection.TableWeights(sc.WhenAllDown, states, backup);
        var backends = new BackendSnapshot[count];
        var maxId = -1;
        for (var b = 0; b < count; b++)
        {
            var bc = sc.Backends[b];
            var address = Ipv4.ToUInt32(bc.Address);
            var id = BackendId(sc.Name, bc.Name);
            if (id >= WorkerCounters.MaxBackendIds)
                throw new InvalidOperationException(
                    $"backend {sc.Name}/{bc.Name} would get id {id}, but ids (never reused while the process runs) " +
                    $"must stay below {WorkerCounters.MaxBackendIds}; restart the balancer to renumber backends");
            backends[b] = new BackendSnapshot
            {
                Id = id,
                Name = bc.Name,
                Address = address,
                Port = bc.Port ?? sc.Port,
                Weight = states[b].Weight,
                TableWeight = weights[b],
                Health = states[b].Health,
                Intent = states[b].Intent,
                SoftStopped = states[b].SoftStopped,
                IsBackup = bc.Backup,
                NeighborIndex = Neighbors.Register(Interfaces.IndexOf(sc.EffectiveBackendInterface), address, bc.Mac),
            };
            maxId = Math.Max(maxId, id);
        }
        slotById = new int[maxId + 1];
        Array.Fill(slotById, -1);
        for (var b = 0; b < count; b++) slotById[backends[b].Id] = b;
        return backends;
    }

    /// <summary>CLUSTERIP: the membership moves on (a node is alive when its health, as a backend-like target
    /// named node-&lt;id&gt;, says so) and the service's settings are bound from the view it yields.</summary>
    private ClusterIpSettings ClusterSettings(ServiceConfig sc, BalancerConfig config, Func<ServiceConfig, BackendConfig, BackendRuntime> runtime)
    {
        var cc = sc.Cluster ?? throw new InvalidOperationException($"service {sc.Name}: mode clusterip needs a cluster section");
        if (!_memberships.TryGetValue(sc.Name, out var membership)) _memberships[sc.Name] = membership = new ClusterMembership();
        var nodes = cc.Nodes.ToDictionary(n => n.Id);
        var view = membership.Update(cc, id => runtime(sc, nodes[id].AsBackend()).Health == BackendHealth.Healthy, config.MaglevTableSize, Clock());
        return ClusterIpSettings.Bind(cc, view, config, ReinjectInterface);
    }

    /// <summary>NAT's return traffic: one reply path on each NAT service's backend-side interface, and the ICMP
    /// error path, both over the NAT services' settings by service index. None without a NAT service.</summary>
    private static (IReplyPath?[] Replies, IIcmpErrorPath? Icmp) NatReturnPaths(ServiceSnapshot[] services, NatSettings?[] nat)
    {
        if (Array.TrueForAll(nat, n => n is null)) return ([], null);
        var replies = new NatReplyPath(nat);
        var paths = new IReplyPath?[services.Max(s => Math.Max(s.IngressInterface, s.EgressInterface)) + 1];
        foreach (var s in services)
            if (nat[s.Index] is not null) paths[s.EgressInterface] = replies;
        return (paths, new NatIcmpPath(replies));
    }
}

/// <summary>Which backends of a service take new flows, with what weight. A backend is a candidate when it is
/// active, not soft-stopped, with weight &gt; 0, and usable when it is also healthy. Usable normal backends take
/// all new flows; only when none is usable do usable backups; when nothing is usable the service drops new flows
/// or, with <c>when_all_down: use_all</c>, balances over every candidate regardless of health.</summary>
internal static class BackendSelection
{
    public static (int[] Weights, bool AllDown) TableWeights(AllDownAction whenAllDown, BackendRuntime[] states, bool[] backup)
    {
        var weights = new int[states.Length];
        static bool Candidate(in BackendRuntime b) => b.Intent == BackendIntent.Active && !b.SoftStopped && b.Weight > 0;
        static bool Usable(in BackendRuntime b) => Candidate(b) && b.Health == BackendHealth.Healthy;
        bool anyPrimary = false, anyBackup = false;
        for (var i = 0; i < states.Length; i++)
        {
            if (!Usable(states[i])) continue;
            if (backup[i]) anyBackup = true;
            else anyPrimary = true;
        }
        for (var i = 0; i < states.Length; i++)
        {
            var inTable = anyPrimary ? !backup[i] && Usable(states[i])
                : anyBackup ? backup[i] && Usable(states[i])
                : whenAllDown == AllDownAction.UseAll && Candidate(states[i]);
            weights[i] = inTable ? states[i].Weight : 0;
        }
        return (weights, !anyPrimary && !anyBackup);
    }
}
