using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.Core.Forwarding.DirectRouting;
using LoadBalancer.Core.Forwarding.Nat;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Forwarding;

/// <summary>A backend's runtime state, as the snapshot builder consumes it.</summary>
/// <param name="SoftStopped">The backend's own health check asked for a drain (see <see cref="HealthCheckConfig.SoftStopStatus"/>).</param>
/// <param name="Leaving">A reload removed it from the config while it still had flows (<c>on_backend_down: keep</c>):
/// it takes no new flows and stays only until its flows end.</param>
public readonly record struct BackendRuntime(BackendHealth Health, BackendIntent Intent, int Weight, bool SoftStopped = false, bool Leaving = false);

/// <summary>Turns validated config and the backends' runtime states into a data-plane snapshot, binding each
/// service's forwarder with its mode's settings (the one place that looks at a service's mode). Runs on the
/// control plane only: building a Maglev table allocates and takes milliseconds. Keeps the state that must
/// outlive one snapshot: stable backend ids and each CLUSTERIP service's <see cref="ClusterMembership"/>.
/// Not thread-safe: its caller serialises builds.</summary>
public sealed class SnapshotBuilder(NeighborTable neighbors, InterfacePlan interfaces, Func<long>? clockMs = null)
{
    private readonly StableIds<(string Service, string Backend, System.Net.IPAddress Address, ushort? Port)> _backendIds = new(WorkerCounters.MaxBackendIds);
    private readonly StableIds<(string Name, System.Net.IPAddress Vip, ushort Port, TransportProtocol Protocol)> _serviceIds = new(WorkerCounters.MaxServices);
    private readonly Dictionary<string, ClusterMembership> _memberships = new(StringComparer.Ordinal);
    private long _version;

    public NeighborTable Neighbors { get; } = neighbors;
    public InterfacePlan Interfaces { get; } = interfaces;

    /// <summary>The engine's clock for membership-change times (the workers' clock).</summary>
    public Func<long> Clock { get; } = clockMs ?? (() => Environment.TickCount64);

    /// <summary>CLUSTERIP: the interface of the TAP device accepted frames are re-injected through (set by the
    /// engine when it has one), -1 when there is none.</summary>
    public int ReinjectInterface { get; set; } = -1;

    /// <summary>Id for a backend, stable for the life of the process (see <see cref="StableIds{TKey}"/>): the same
    /// service, backend name, address and port map to the same id, so flows survive reloads and reorderings; a
    /// backend given another address or port under its old name is another server, with its own id (its
    /// predecessor's flows are not sent to it). -1 for a backend no snapshot has had.</summary>
    public int BackendId(string service, BackendConfig backend) => _backendIds.Peek((service, backend.Name, backend.Address, backend.Port));

    /// <summary>Id for a service, stable like a backend's: the same name, VIP, port and protocol map to the same
    /// id (a service whose VIP, port or protocol changed is another service), so its NAT sessions and counters
    /// survive reloads and reorderings. -1 for a service no snapshot has had.</summary>
    public int ServiceId(ServiceConfig service) => _serviceIds.Peek((service.Name, service.Vip, service.Port, service.Protocol));

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
        _serviceIds.BeginBuild();
        _backendIds.BeginBuild();
        var services = new ServiceSnapshot[config.Services.Count];
        var nat = new NatSettings?[services.Length];
        for (var s = 0; s < services.Length; s++)
        {
            var sc = config.Services[s];
            var serviceId = _serviceIds.Take((sc.Name, sc.Vip, sc.Port, sc.Protocol));
            if (serviceId >= WorkerCounters.MaxServices)
                throw new InvalidOperationException($"service {sc.Name}: every one of the {WorkerCounters.MaxServices} service ids is in use");
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
                Id = serviceId,
                Name = sc.Name,
                Config = sc,
                Vip = sc.IsIpv6 ? 0 : Ipv4.ToUInt32(sc.Vip),
                Vip6 = sc.IsIpv6 ? Ipv6.ToUInt128(sc.Vip) : 0,
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
                // Every CLUSTERIP node must compute the same owner: lb check refuses another scheduler there.
                Scheduler = sc.Mode == ForwardingMode.ClusterIp ? SchedulerKind.Maglev : sc.Scheduler,
                HasLimits = sc.Mode != ForwardingMode.ClusterIp && Array.Exists(backends, b => b.Limit.IsLimited),
                AllDown = allDown,
            };
        }
        var (replyPaths, icmp) = NatReturnPaths(services, nat);
        var serviceSlots = new int[services.Length == 0 ? 0 : services.Max(s => s.Id) + 1];
        Array.Fill(serviceSlots, -1);
        for (var s = 0; s < services.Length; s++) serviceSlots[services[s].Id] = s;
        return new DataPlaneSnapshot
        {
            Version = ++_version, HashSeed = config.HashSeed, Services = services, ServiceSlotById = serviceSlots, ReplyPaths = replyPaths, IcmpErrors = icmp,
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
        (var weights, var overflow, allDown) = BackendSelection.TableWeights(sc.WhenAllDown, states, backup);
        var backends = new BackendSnapshot[count];
        var maxId = -1;
        for (var b = 0; b < count; b++)
        {
            var bc = sc.Backends[b];
            var ipv6 = bc.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
            var address = ipv6 ? 0 : Ipv4.ToUInt32(bc.Address);
            var address6 = ipv6 ? Ipv6.ToUInt128(bc.Address) : 0;
            var egress = Interfaces.IndexOf(sc.EffectiveBackendInterface);
            var id = _backendIds.Take((sc.Name, bc.Name, bc.Address, bc.Port));
            if (id >= WorkerCounters.MaxBackendIds)
                throw new InvalidOperationException($"backend {sc.Name}/{bc.Name}: every one of the {WorkerCounters.MaxBackendIds} backend ids is in use");
            backends[b] = new BackendSnapshot
            {
                Id = id,
                Name = bc.Name,
                Address = address,
                Address6 = address6,
                Port = bc.Port ?? sc.Port,
                Weight = states[b].Weight,
                TableWeight = weights[b],
                OverflowWeight = overflow[b],
                Limit = bc.Limit,
                Health = states[b].Health,
                Intent = states[b].Intent,
                SoftStopped = states[b].SoftStopped,
                IsBackup = bc.Backup,
                Leaving = states[b].Leaving,
                NeighborIndex = ipv6 ? Neighbors.Register6(egress, address6, bc.Mac) : Neighbors.Register(egress, address, bc.Mac),
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
    /// error path, both over the NAT services' settings by service id (<paramref name="nat"/> is by position).
    /// None without a NAT service.</summary>
    private static (IReplyPath?[] Replies, IIcmpErrorPath? Icmp) NatReturnPaths(ServiceSnapshot[] services, NatSettings?[] nat)
    {
        if (Array.TrueForAll(nat, n => n is null)) return ([], null);
        var byId = new NatSettings?[services.Max(s => s.Id) + 1];
        for (var s = 0; s < services.Length; s++) byId[services[s].Id] = nat[s];
        var replies = new NatReplyPath(byId);
        var paths = new IReplyPath?[services.Max(s => Math.Max(s.IngressInterface, s.EgressInterface)) + 1];
        for (var s = 0; s < services.Length; s++)
            if (nat[s] is not null) paths[services[s].EgressInterface] = replies;
        return (paths, new NatIcmpPath(replies));
    }
}

/// <summary>Which backends of a service take new flows, with what weight. A backend is a candidate when it is
/// active, not soft-stopped, not leaving (see <see cref="BackendRuntime.Leaving"/>), with weight &gt; 0, and usable when it is also healthy. Usable normal backends take
/// all new flows; only when none is usable do usable backups; when nothing is usable the service drops new flows
/// or, with <c>when_all_down: use_all</c>, balances over every candidate regardless of health.
/// The overflow weights are the usable backups' while the normal backends are the table: where new flows go when
/// every backend of the table is at its connection limit.</summary>
internal static class BackendSelection
{
    public static (int[] Weights, int[] Overflow, bool AllDown) TableWeights(AllDownAction whenAllDown, BackendRuntime[] states, bool[] backup)
    {
        var weights = new int[states.Length];
        var overflow = new int[states.Length];
        static bool Candidate(in BackendRuntime b) => b.Intent == BackendIntent.Active && !b.SoftStopped && !b.Leaving && b.Weight > 0;
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
            overflow[i] = anyPrimary && backup[i] && Usable(states[i]) ? states[i].Weight : 0;
        }
        return (weights, overflow, !anyPrimary && !anyBackup);
    }
}
