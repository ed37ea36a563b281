using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting.Platform;
using LoadBalancer.Hosting.Sync;

namespace LoadBalancer.Hosting;

/// <summary>A built engine (see <see cref="EngineBuilder"/>): its data path (workers, ARP responders, the shared
/// neighbour table and interface plan), its control plane (<see cref="Control"/>), and what it holds of the
/// kernel. <see cref="Start"/> runs it: worker and ARP threads, then the ingress drops, then the heartbeats (last,
/// so peers see this node alive only once it can take its share) and state sync. <see cref="Dispose"/> undoes all of it in
/// reverse order. Tests may instead drive the workers themselves without starting any thread.</summary>
public sealed class Engine : IDisposable
{
    private readonly EnginePlatform _platform;
    private readonly EngineOptions _options;
    private readonly List<IDisposable> _resources = new();
    private readonly List<IReceivePort> _receivers = new();
    private readonly List<(ForwardingWorker Worker, string Interface, int Number, int Cpu)> _workers = new();
    private readonly List<ForwardingWorker> _workerList = new();
    private readonly List<(ArpService Service, string Interface)> _arp = new();
    private readonly List<ArpResponder> _responders = new();
    private readonly List<(IDisposable Drop, string Interface)> _drops = new();
    private readonly List<Thread> _threads = new();
    private readonly CancellationTokenSource _stop = new();

    internal Engine(BalancerConfig config, EnginePlatform platform, EngineOptions options)
    {
        Config = config;
        _platform = platform;
        _options = options;
        Roles = new HaRoles(config.Ha, options.Log);
    }

    public BalancerConfig Config { get; }
    public InterfacePlan Interfaces { get; } = new();
    public NeighborTable Neighbors { get; } = new();
    public EngineControl Control { get; internal set; } = null!;
    public EngineTopology Topology { get; internal set; } = null!;
    public DataPlaneState State => Control.State;
    public BackendStateTable Backends => Control.Backends;
    public IReadOnlyList<ForwardingWorker> Workers => _workerList;
    public IReadOnlyList<ArpResponder> Responders => _responders;
    /// <summary>Master, backup or fault in an HA pair, as keepalived last said; a lone balancer is always master.</summary>
    public HaRoles Roles { get; }
    /// <summary>State sync with the HA peer (<c>ha.sync</c>), or null.</summary>
    public StateSync? Sync { get; internal set; }
    /// <summary>Announced VIPs as kernel routes (<c>announce:</c>), or null.</summary>
    public VipAnnouncer? Announcer { get; internal set; }
    public DateTime StartedAt { get; } = DateTime.UtcNow;
    public Func<long> ClockMs => _options.ClockMs;
    public CancellationToken Stopping => _stop.Token;
    internal int WorkerCount => _workers.Count;

    /// <summary>Frames the kernel could not fit in the receive rings, summed over them.</summary>
    public long KernelRingDrops
    {
        get
        {
            long n = 0;
            lock (_receivers)
                foreach (var p in _receivers) n += p.KernelDrops;
            return n;
        }
    }

    internal T Own<T>(T resource)
    {
        if (resource is IDisposable d) _resources.Add(d);
        return resource;
    }

    internal IReceivePort OwnReceiver(IReceivePort port)
    {
        Own(port);
        lock (_receivers) _receivers.Add(port);
        return port;
    }

    internal void AddWorker(ForwardingWorker worker, string interfaceName, int number, int cpu)
    {
        _workers.Add((worker, interfaceName, number, cpu));
        _workerList.Add(worker);
    }

    internal void AddArp(ArpResponder responder, ArpService service, string interfaceName)
    {
        _responders.Add(responder);
        _arp.Add((service, interfaceName));
    }

    public void Start()
    {
        var log = _options.Log;
        foreach (var (worker, name, number, cpu) in _workers)
        {
            StartThread($"lb-worker-{name}-{number}", () =>
            {
                if (cpu >= 0) _platform.Cpus.PinCurrentThread(cpu);
                worker.Run(_stop.Token);
            });
            if (cpu >= 0) log.Info($"worker {number} on {name} pinned to CPU {cpu}");
        }
        foreach (var (service, name) in _arp) StartThread($"lb-arp-{name}", () => service.Run(_stop.Token));

        foreach (var rule in Topology.Drops)
        {
            var name = Interfaces.Name(rule.Interface);
            _drops.Add((_platform.IngressDrops.Install(name, rule.Vips, rule.Replies, Interfaces.Address(rule.Interface)), name));
            log.Info($"ingress drop installed on {name} ({_platform.IngressDrops.Describe(name)})");
        }

        foreach (var (address, port) in Topology.Heartbeats)
        {
            Own(_platform.Heartbeats.Listen(address, port));
            log.Info($"heartbeat for peers on {address}:{port}/tcp");
        }

        Sync?.Start(_stop.Token);
        // Last: a VIP is announced only once everything that serves it runs.
        if (Announcer is { } announcer) StartThread("lb-announce", () => announcer.Run(_stop.Token));
        if (Roles.Enabled) log.Info($"ha role {ModeNames.Name(Roles.Role)} ({Roles.ChangedBy})" + (Roles.ClaimsVips ? "" : ": VIPs left to the master until keepalived says otherwise"));
        foreach (var s in State.Current.Services)
            log.Info($"service {s.Name} {Ipv4.Format(s.Vip)}:{s.Port}/{ModeNames.Name((TransportProtocol)s.Protocol)} " +
                     $"mode {ModeNames.Name(s.Mode)} on {Interfaces.Name(s.IngressInterface)} -> {Interfaces.Name(s.EgressInterface)}, {s.Backends.Length} backends");
    }

    private void StartThread(string name, Action body)
    {
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                _options.Log.Error($"{name} failed: {e.Message}");
                _stop.Cancel();
            }
        })
        { IsBackground = true, Name = name };
        _threads.Add(thread);
        thread.Start();
    }

    public void Stop() => _stop.Cancel();

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var t in _threads) t.Join(TimeSpan.FromSeconds(5));
        foreach (var (drop, name) in _drops)
        {
            drop.Dispose();
            _options.Log.Info($"ingress drop removed ({_platform.IngressDrops.Describe(name)})");
        }
        _drops.Clear();
        for (var i = _resources.Count - 1; i >= 0; i--) _resources[i].Dispose();
        _resources.Clear();
    }
}
