using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Model;

/// <summary>Turns validated config into a data-plane snapshot. Runs on the control plane only:
/// building a Maglev table allocates and takes milliseconds.</summary>
public sealed class SnapshotBuilder
{
    private readonly Dictionary<(string Service, string Backend), int> _backendIds = new();
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
    public DataPlaneSnapshot Build(BalancerConfig config, Func<ServiceConfig, BackendConfig, int>? effectiveWeight = null)
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
                backends[b] = new BackendSnapshot
                {
                    Id = id,
                    Name = bc.Name,
                    Address = address,
                    Weight = effectiveWeight?.Invoke(sc, bc) ?? bc.Weight,
                    NeighborIndex = Neighbors.Register(Interfaces.IndexOf(sc.EffectiveBackendInterface), address, bc.Mac),
                };
                maxId = Math.Max(maxId, backends[b].Id);
            }
            var slotById = new int[maxId + 1];
            Array.Fill(slotById, -1);
            for (var b = 0; b < backends.Length; b++) slotById[backends[b].Id] = b;
            var table = MaglevTable.Build(backends.Select(b => new MaglevBackend(b.Name, b.Weight)).ToArray(), config.MaglevTableSize);
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
                Forwarder = sc.Mode switch
                {
                    ForwardingMode.DirectRouting => DirectRoutingForwarder.Instance,
                    _ => throw new NotSupportedException($"mode {sc.Mode} is not implemented"),
                },
            };
        }
        return new DataPlaneSnapshot { Version = ++_version, HashSeed = config.HashSeed, Services = services };
    }
}

/// <summary>The distinct interfaces the engine uses, each with a small index ("port") and its MAC.</summary>
public sealed class InterfacePlan
{
    private readonly List<string> _names = new();
    private readonly List<MacAddress> _macs = new();
    private readonly List<uint> _addresses = new();

    public int Add(string name, MacAddress mac, uint address)
    {
        var i = _names.IndexOf(name);
        if (i >= 0) return i;
        _names.Add(name);
        _macs.Add(mac);
        _addresses.Add(address);
        return _names.Count - 1;
    }

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
