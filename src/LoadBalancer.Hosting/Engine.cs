using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting.Platform;
using LoadBalancer.Hosting.Reload;
using LoadBalancer.Hosting.Sync;

namespace LoadBalancer.Hosting;

/// <summary>A built engine (see <see cref="EngineBuilder"/>): its data path (workers, ARP and ND responders, the shared
/// neighbour table and interface plan), its control plane (<see cref="Control"/>), and what it holds of the
/// kernel. <see cref="Start"/> runs it: worker, ARP and ND threads, then the ingress drops, then the heartbeats (last,
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
    private readonly List<(NeighborDiscoveryService Service, string Interface)> _nd = new();
    private readonly List<NeighborDiscoveryResponder> _ndResponders = new();
    private readonly List<EngineLoop> _loops = new();
    // Guarded by the control plane's rebuild gate once started (a reload replaces entries): Start fills it, Dispose empties it.
    private readonly List<(IDisposable Drop, string Interface, IngressDropRule Rule)> _drops = new();
    private readonly List<Thread> _threads = new();
    private readonly CancellationTokenSource _stop = new();

    internal Engine(BalancerConfig config, EnginePlatform platform, EngineOptions options)
    {
        _platform = platform;
        _options = options;
        Roles = new HaRoles(config.Ha, options.Log);
    }

    /// <summary>The config the engine runs now (a reload replaces it).</summary>
    public BalancerConfig Config => Control.Config;
    public InterfacePlan Interfaces { get; } = new();
    public NeighborTable Neighbors { get; } = new();
    public EngineControl Control { get; internal set; } = null!;
    public EngineTopology Topology { get; internal set; } = null!;
    public DataPlaneState State => Control.State;
    public BackendStateTable Backends => Control.Backends;
    public IReadOnlyList<ForwardingWorker> Workers => _workerList;
    public IReadOnlyList<ArpResponder> Responders => _responders;
    /// <summary>One per interface with IPv6 VIPs or IPv6 neighbours (none in an all-IPv4 engine).</summary>
    public IReadOnlyList<NeighborDiscoveryResponder> NeighborDiscoveryResponders => _ndResponders;
    /// <summary>The data path's loops (every worker, every interface's ARP and neighbour discovery), for readiness and
    /// the watchdog.</summary>
    public IReadOnlyList<EngineLoop> Loops => _loops;
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
    /// <summary>The workers hold IPv6 NAT session tables (made at start, only when an IPv6 NAT service was served then).</summary>
    internal bool HoldsSessions6 => _workerList.Count > 0 && _workerList[0].Processor.Worker.Sessions6 is not null;

    /// <summary>The worker (its index in <see cref="Workers"/>) that frames from this client to a service on
    /// <paramref name="ingressInterface"/> reach: the interface's workers joined its fanout group in their number
    /// order, and the fanout (<see cref="WorkerFanout"/>) picks among them by the client's address and port.
    /// -1 when no worker reads that interface.</summary>
    public int WorkerFor(int ingressInterface, uint clientAddress, ushort clientPort)
    {
        var name = Interfaces.Name(ingressInterface);
        var group = new List<(int Number, int Index)>();
        for (var i = 0; i < _workers.Count; i++)
            if (_workers[i].Interface == name) group.Add((_workers[i].Number, i));
        if (group.Count == 0) return -1;
        group.Sort();
        return group[WorkerFanout.Worker(clientAddress, clientPort, group.Count)].Index;
    }

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
        _loops.Add(new EngineLoop(WorkerThreadName(interfaceName, number), () => worker.Rounds));
    }

    internal void AddArp(ArpResponder responder, ArpService service, string interfaceName)
    {
        _responders.Add(responder);
        _arp.Add((service, interfaceName));
        _loops.Add(new EngineLoop(ArpThreadName(interfaceName), () => service.Rounds));
    }

    internal void AddNeighborDiscovery(NeighborDiscoveryResponder responder, NeighborDiscoveryService service, string interfaceName)
    {
        _ndResponders.Add(responder);
        _nd.Add((service, interfaceName));
        _loops.Add(new EngineLoop(NeighborDiscoveryThreadName(interfaceName), () => service.Rounds));
    }

    private static string NeighborDiscoveryThreadName(string interfaceName) => $"lb-nd-{interfaceName}";

    private static string WorkerThreadName(string interfaceName, int number) => $"lb-worker-{interfaceName}-{number}";
    private static string ArpThreadName(string interfaceName) => $"lb-arp-{interfaceName}";

    public void Start()
    {
        var log = _options.Log;
        foreach (var (worker, name, number, cpu) in _workers)
        {
            StartThread(WorkerThreadName(name, number), () =>
            {
                if (cpu >= 0) _platform.Cpus.PinCurrentThread(cpu);
                worker.Run(_stop.Token);
            });
            if (cpu >= 0) log.Info($"worker {number} on {name} pinned to CPU {cpu}");
        }
        foreach (var (service, name) in _arp) StartThread(ArpThreadName(name), () => service.Run(_stop.Token));
        foreach (var (service, name) in _nd) StartThread(NeighborDiscoveryThreadName(name), () => service.Run(_stop.Token));

        foreach (var rule in Topology.Drops)
        {
            var name = Interfaces.Name(rule.Interface);
            _drops.Add((InstallDrop(rule), name, rule));
            log.Info($"ingress drop installed on {name} ({_platform.IngressDrops.Describe(name)})");
        }
        // A reload that removes a backend under on_backend_down: keep leaves it serving its flows; this forgets it
        // once they have ended. Only counts flows (a walk of the tables) while some backend is leaving.
        StartThread("lb-leaving", () =>
        {
            while (!_stop.Token.WaitHandle.WaitOne(LeavingCheckInterval)) Control.RemoveEndedLeaving(CountLiveFlows);
        });

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
            log.Info($"service {s.Name} {new System.Net.IPEndPoint(s.Config.Vip, s.Port)}/{ModeNames.Name((TransportProtocol)s.Protocol)} " +
                     $"mode {ModeNames.Name(s.Mode)} on {Interfaces.Name(s.IngressInterface)} -> {Interfaces.Name(s.EgressInterface)}, {s.Backends.Length} backends");
    }

    private static readonly TimeSpan LeavingCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>After <see cref="Start"/>: waits, at most <paramref name="timeout"/>, until the engine serves, i.e.
    /// every loop of <see cref="Loops"/> has gone round once (its ring or ARP socket, bound at build, is being read)
    /// and every neighbour learned by ARP (backends, gateways) has its MAC, so a first connection to a service without
    /// health checks is forwarded, not dropped as <c>backend_mac_unresolved</c>. Returns what is still missing when
    /// the time is up (empty: serving); a backend that never answers ARP must not hold the start for ever.</summary>
    public IReadOnlyList<string> WaitUntilServing(TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            var missing = NotServing();
            if (missing.Count == 0 || Environment.TickCount64 >= deadline || _stop.IsCancellationRequested) return missing;
            // A poll, bounded by the deadline: the loops and ARP answers it waits for take a few milliseconds.
            _stop.Token.WaitHandle.WaitOne(10);
        }
    }

    private List<string> NotServing()
    {
        var missing = _loops.Where(l => l.Rounds() == 0).Select(l => $"{l.Name} not running").ToList();
        var unresolved = 0;
        for (var i = 0; i < Neighbors.Count; i++)
            if (!Neighbors.IsStatic(i) && Neighbors.Mac(i).IsZero) unresolved++;
        if (unresolved > 0) missing.Add($"{unresolved} neighbour MACs unresolved");
        return missing;
    }

    private IDisposable InstallDrop(IngressDropRule rule) =>
        _platform.IngressDrops.Install(Interfaces.Name(rule.Interface), rule.Vips, rule.Vips6, rule.Replies, Interfaces.Address(rule.Interface), Interfaces.Address6(rule.Interface));

    /// <summary>Every worker's flow and session counts per backend (their tallies, summed on read): what the
    /// schedulers, status and a reload's leaving backends read, without walking a table.</summary>
    public Core.Scheduling.BackendLoad Load { get; } = new();

    /// <summary>Flow-table entries and NAT sessions held per backend id, over every worker (<see cref="Load"/>).</summary>
    public long[] CountLiveFlows()
    {
        var counts = new long[WorkerCounters.MaxBackendIds];
        for (var id = 0; id < counts.Length; id++) counts[id] = Load.Held(id);
        return counts;
    }

    /// <summary>Applies <paramref name="next"/> to the running engine, keeping every flow, session, counter and
    /// health result it still has, or changes nothing and says why (<see cref="EngineControl.Reload"/>).</summary>
    public ReloadResult Reload(BalancerConfig next) => Control.Reload(next, new Steps(this));

    /// <summary>What a reload needs of the engine: the new config must be served by the interfaces, fanout groups,
    /// multicast memberships, TAP and heartbeats opened at start (a new service on an interface the engine does not
    /// read, or the first CLUSTERIP service, needs a restart); the ingress drops are widened to the old and new VIPs
    /// and replies before the swap (so no frame of either reaches the kernel's stack in between) and narrowed after
    /// it; new VIPs are announced.</summary>
    private sealed class Steps(Engine engine) : ReloadSteps
    {
        private EngineTopology? _next;
        private readonly List<(int Slot, IngressDropRule Rule)> _widened = new();

        public override IReadOnlyList<ReloadRefusal> Admit(BalancerConfig next)
        {
            var refusals = new List<ReloadRefusal>();
            foreach (var s in next.Services)
            {
                foreach (var (key, name) in new[] { ("interface", s.Interface), ("backend_interface", s.EffectiveBackendInterface) })
                    if (!engine.Interfaces.Contains(name))
                        refusals.Add(new ReloadRefusal(s.KeyLines.TryGetValue(key, out var line) ? line : s.Line,
                            $"service {s.Name}: {key} {name} is not an interface this engine opened at start: a restart is needed"));
                if (s.Mode == ForwardingMode.ClusterIp && engine.Control.Builder.ReinjectInterface < 0)
                    refusals.Add(new ReloadRefusal(s.Line, $"service {s.Name}: the engine's first clusterip service needs a restart (its TAP is made at start)"));
                if (Ipv6Refusal(s) is { } refusal) refusals.Add(refusal);
            }
            return refusals;
        }

        /// <summary>IPv6 needs neighbour discovery on the interfaces it uses and the workers' IPv6 flow tables, and both are
        /// made at start, only where IPv6 was served then (neighbour discovery on an interface implies the tables); IPv6
        /// NAT needs the workers' IPv6 session tables, made at start only for an IPv6 NAT service; an IPv6 backend to
        /// resolve needs an IPv6 address on its interface to solicit from.</summary>
        private ReloadRefusal? Ipv6Refusal(ServiceConfig s)
        {
            if (s.IsIpv6 && s.Mode == ForwardingMode.Nat && !engine.HoldsSessions6)
                return new ReloadRefusal(s.KeyLines.TryGetValue("mode", out var modeLine) ? modeLine : s.Line,
                    $"service {s.Name}: the engine's first IPv6 NAT service needs a restart (the workers' IPv6 session tables are made at start)");
            var ipv6Backends = s.Backends.Where(b => b.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6).ToArray();
            var backendSide = s.EffectiveBackendInterface;
            foreach (var (uses, name) in new[] { (s.IsIpv6, s.Interface), (ipv6Backends.Length > 0, backendSide) })
                if (uses && engine.Interfaces.Contains(name) && !engine._nd.Any(n => n.Interface == name))
                    return new ReloadRefusal(s.Line, $"service {s.Name}: the first IPv6 service or backend on {name} needs a restart (neighbour discovery there and the IPv6 flow tables are made at start)");
            if (EngineBuilder.Unsolicitable(s, engine.Interfaces) is not { } n) return null;
            return new ReloadRefusal(n.Line > 0 ? n.Line : s.Line, n.Backend is { } unresolvable
                ? $"service {s.Name}: backend {unresolvable.Name} is reached through {n.Interface}, which has no IPv6 address to solicit its MAC from: give {n.Interface} one or the backend a mac:"
                : $"service {s.Name}: gateway {s.Gateway} is reached through {n.Interface}, which has no IPv6 address to solicit its MAC from: give {n.Interface} one");
        }

        public override ReloadRefusal? Fits(BalancerConfig next, DataPlaneSnapshot snapshot)
        {
            EngineTopology topology;
            try
            {
                topology = EngineTopology.From(next, snapshot);
            }
            catch (InvalidOperationException e)
            {
                return new ReloadRefusal(0, e.Message);
            }
            if (topology.ReadsLike(engine.Topology) is { } difference)
                return new ReloadRefusal(0, $"{difference}: the engine reads its interfaces as it opened them at start, a restart is needed");
            _next = topology;
            return null;
        }

        public override long[] CountLiveFlows() => engine.CountLiveFlows();

        public override void BeforePublish(DataPlaneSnapshot snapshot)
        {
            var drops = engine._drops;
            for (var i = 0; i < drops.Count; i++)
            {
                var old = drops[i].Rule;
                var rule = _next!.Drops.FirstOrDefault(r => r.Interface == old.Interface);
                if (rule is null || rule.SameAs(old)) continue;
                var union = old.Union(rule);
                try
                {
                    drops[i] = (engine.InstallDrop(union), drops[i].Interface, union);
                }
                catch (InvalidOperationException)
                {
                    // Put back what was widened: a refused reload changes nothing.
                    foreach (var (slot, before) in _widened) drops[slot] = (TryInstall(before) ?? drops[slot].Drop, drops[slot].Interface, before);
                    throw;
                }
                _widened.Add((i, old));
            }
        }

        private IDisposable? TryInstall(IngressDropRule rule)
        {
            try
            {
                return engine.InstallDrop(rule);
            }
            catch (InvalidOperationException e)
            {
                engine._options.Log.Error($"ingress drop on {engine.Interfaces.Name(rule.Interface)} could not be put back: {e.Message}");
                return null;
            }
        }

        public override void AfterPublish(DataPlaneSnapshot snapshot)
        {
            var old = engine.Topology;
            engine.Topology = _next!;
            var drops = engine._drops;
            foreach (var (slot, _) in _widened)
            {
                var rule = _next!.Drops.First(r => r.Interface == drops[slot].Rule.Interface);
                if (TryInstall(rule) is { } installed) drops[slot] = (installed, drops[slot].Interface, rule);
            }
            var oldVips = old.Drops.SelectMany(r => r.Vips).ToHashSet();
            var oldVips6 = old.Drops.SelectMany(r => r.Vips6).ToHashSet();
            if (_next!.Drops.SelectMany(r => r.Vips).Any(v => !oldVips.Contains(v)) || _next.Drops.SelectMany(r => r.Vips6).Any(v => !oldVips6.Contains(v)))
                engine.Roles.Reannounce();
        }
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
        foreach (var (drop, name, _) in _drops)
        {
            drop.Dispose();
            _options.Log.Info($"ingress drop removed ({_platform.IngressDrops.Describe(name)})");
        }
        _drops.Clear();
        for (var i = _resources.Count - 1; i >= 0; i--) _resources[i].Dispose();
        _resources.Clear();
    }
}
