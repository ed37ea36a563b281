using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Health;
using LoadBalancer.Linux.Kernel;
using LoadBalancer.Linux.Packet;

namespace LoadBalancer.Cli.Engine;

/// <summary>The composition root of <c>lb run</c>: reads the interfaces, builds the first snapshot,
/// opens one ring per worker and interface, starts the workers, the ARP services and the control
/// socket, installs the ingress drops, and undoes all of it on stop (in reverse order).</summary>
internal sealed class EngineHost : IDisposable
{
    private readonly BalancerConfig _config;
    private readonly EngineLog _log;
    private readonly List<IDisposable> _resources = new();
    private readonly List<Thread> _threads = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<IngressDrop> _drops = new();
    private readonly List<AfPacketPort> _ports = new();

    public EngineHost(BalancerConfig config, EngineLog log)
    {
        _config = config;
        _log = log;
        Plan = new InterfacePlan();
        Neighbors = new NeighborTable();
        Builder = new SnapshotBuilder(Neighbors, Plan);
        Backends = new BackendStateTable(config);
    }

    /// <summary>Health, intent and weight per backend: the input of every snapshot rebuild.</summary>
    public BackendStateTable Backends { get; }

    private readonly object _rebuildGate = new();

    /// <summary>Builds a snapshot from the config and the current backend states and publishes it. Runs on
    /// the control plane (Maglev builds take milliseconds); workers pick the new snapshot up at their next
    /// frame without waiting for anything. Serialised, because the builder's id map is not thread-safe.</summary>
    public void Rebuild()
    {
        lock (_rebuildGate)
        {
            var snapshot = Builder.Build(_config, Backends.Runtime);
            State!.Publish(snapshot);
            // The cause was logged where it happened (health change, operator command); this says it took effect.
            _log.Info($"table rebuilt (snapshot {snapshot.Version})");
        }
    }

    /// <summary>A check result from the in-process health checker or an external one.</summary>
    public void ApplyHealth(HealthReport report)
    {
        if (Backends.ApplyCheck(report, out var error)) Rebuild();
        else if (error is not null) _log.Error($"health report ignored: {error}");
    }

    public InterfacePlan Plan { get; }
    public NeighborTable Neighbors { get; }
    public SnapshotBuilder Builder { get; }
    public DataPlaneState? State { get; private set; }
    public List<ForwardingWorker> Workers { get; } = new();
    public List<ArpResponder> Responders { get; } = new();
    public DateTime StartedAt { get; } = DateTime.UtcNow;
    public BalancerConfig Config => _config;
    public long KernelRingDrops
    {
        get
        {
            long n = 0;
            lock (_ports)
                foreach (var p in _ports) n += p.KernelDrops;
            return n;
        }
    }

    public void Start()
    {
        foreach (var s in _config.Services)
            foreach (var name in new[] { s.Interface, s.EffectiveBackendInterface })
            {
                var link = LinkInfo.Read(name);
                Plan.Add(name, link.Mac, link.Ipv4Address, link.Mtu);
            }
        // CLUSTERIP: one TAP per engine re-injects the frames this node owns into its own stack.
        TapDevice? tap = null;
        if (_config.Services.Any(s => s.Mode == ForwardingMode.ClusterIp))
        {
            var tapName = "lbc" + LinkInfo.Read(_config.Services.First(s => s.Mode == ForwardingMode.ClusterIp).Interface).IfIndex.ToString(System.Globalization.CultureInfo.InvariantCulture);
            tap = TapDevice.Create(tapName);
            _resources.Add(tap);
            ConfigureTap(tapName);
            var tapLink = LinkInfo.Read(tapName);
            var tapPort = Plan.Add(tapName, tapLink.Mac, 0, tapLink.Mtu);
            Builder.ReinjectPortFor = _ => tapPort;
            _log.Info($"re-injecting owned CLUSTERIP flows through TAP {tapName} ({tapLink.Mac})");
        }
        State = new DataPlaneState(Builder.Build(_config, Backends.Runtime));
        var snapshot = State.Current;

        var ingress = snapshot.Services.Select(s => s.IngressPort).Distinct().ToArray();
        // NAT replies arrive on the backend side: a worker reads that interface too, so both directions of
        // a flow meet the same session table.
        var natBackend = snapshot.Services.Where(s => s.Mode == ForwardingMode.Nat).Select(s => s.EgressPort).Distinct().ToArray();
        if (natBackend.Length > 0 && ingress.Length > 1)
            throw new InvalidOperationException("NAT services need a single client-side interface for now " +
                                                "(both directions of a flow must reach the same worker)");
        var nat = natBackend.Length > 0;
        var ring = new RingOptions();
        foreach (var port in ingress)
        {
            var name = Plan.Name(port);
            for (var w = 0; w < _config.Workers; w++)
            {
                // With NAT, workers are chosen by the client's address and port on both sides, so a reply
                // reaches the worker holding its session; every worker joins the groups in the same order.
                RingOptions Fanout(int p, FanoutKey key) => _config.Workers > 1
                    ? ring with { FanoutGroup = (Environment.ProcessId ^ (p << 12)) & 0xFFFF, FanoutKey = key }
                    : ring;
                var ports = new List<AfPacketPort> { AfPacketPort.Open(name, port, Fanout(port, nat ? FanoutKey.ClientIsSource : FanoutKey.FlowHash)) };
                foreach (var s in snapshot.Services.Where(s => s.Mode == ForwardingMode.ClusterIp && s.IngressPort == port))
                    ports[0].JoinMulticast(s.ClusterMac);
                foreach (var back in natBackend.Where(b => b != port))
                    ports.Add(AfPacketPort.Open(Plan.Name(back), back, Fanout(back, FanoutKey.ClientIsDestination)));
                foreach (var p in ports)
                {
                    _resources.Add(p);
                    lock (_ports) _ports.Add(p);
                }
                var transmitters = new IFrameTransmitter[Plan.Count];
                for (var p = 0; p < Plan.Count; p++)
                {
                    if (tap is not null && Plan.Name(p) == tap.Name)
                    {
                        transmitters[p] = tap;
                        continue;
                    }
                    // Oversize (GSO) frames leave by sendmmsg, on a ring socket of that interface when we read it.
                    var reader = ports.FirstOrDefault(x => x.Name == Plan.Name(p));
                    AfPacketTransmitter oversize;
                    if (reader is not null) oversize = reader.Transmitter;
                    else
                    {
                        oversize = AfPacketTransmitter.Open(Plan.Name(p));
                        _resources.Add(oversize);
                    }
                    var tx = AfPacketTxRing.Open(Plan.Name(p), oversize);
                    _resources.Add(tx);
                    transmitters[p] = tx;
                }
                var counters = new WorkerCounters();
                var processor = new PacketProcessor(State, Neighbors, new FlowTable(_config.FlowTableSize, _config.FlowTimeouts.ToFlowTimeouts()), Plan, counters,
                    new NatSessionTable(_config.SessionTableSize, counters));
                var worker = new ForwardingWorker(processor, ports.ToArray<IFramePort>(), transmitters);
                Workers.Add(worker);
                var cpu = _config.Cpus.Count > 0 ? _config.Cpus[(Workers.Count - 1) % _config.Cpus.Count] : -1;
                StartThread($"lb-worker-{name}-{w}", () =>
                {
                    if (cpu >= 0) CpuAffinity.PinCurrentThread(cpu);
                    worker.Run(_stop.Token);
                });
                if (cpu >= 0) _log.Info($"worker {w} on {name} pinned to CPU {cpu}");
            }
        }

        for (var port = 0; port < Plan.Count; port++)
        {
            if (tap is not null && Plan.Name(port) == tap.Name) continue; // no ARP on the TAP
            var socket = ArpSocket.Open(Plan.Name(port));
            foreach (var s in snapshot.Services.Where(s => s.Mode == ForwardingMode.ClusterIp && s.IngressPort == port))
                socket.JoinMulticast(s.ClusterMac);
            _resources.Add(socket);
            var responder = new ArpResponder(State, Neighbors, Plan);
            Responders.Add(responder);
            var service = new ArpService(socket, port, responder, Neighbors, Plan, _log);
            StartThread($"lb-arp-{Plan.Name(port)}", () => service.Run(_stop.Token));
        }

        foreach (var port in ingress.Union(natBackend))
        {
            var vips = snapshot.Services.Where(s => s.IngressPort == port).Select(s => s.Vip).Distinct().ToArray();
            // On a NAT backend side the engine owns the replies: frames from a backend's address and port,
            // except those addressed to this host itself (health checks).
            var replies = snapshot.Services.Where(s => s.Mode == ForwardingMode.Nat && s.EgressPort == port)
                .SelectMany(s => s.Backends.Select(b => new IngressDrop.Reply(b.Address, s.Protocol, b.Port)))
                .Distinct().ToArray();
            _drops.Add(IngressDrop.Install(Plan.Name(port), vips, replies, Plan.Address(port)));
            _log.Info($"ingress drop installed on {Plan.Name(port)} (nft table netdev {IngressDrop.TableFor(Plan.Name(port))})");
        }

        // Last, so peers see this node alive only once it can accept its share.
        var heartbeats = _config.Services.Where(s => s.Cluster is { HeartbeatPort: > 0 })
            .Select(s => (Address: s.Cluster!.Nodes.First(n => n.Id == s.Cluster.LocalNode).Address, Port: s.Cluster.HeartbeatPort)).Distinct();
        foreach (var (address, port) in heartbeats)
        {
            _resources.Add(EngineHeartbeat.Listen(address, port));
            _log.Info($"heartbeat for peers on {address}:{port}/tcp");
        }

        foreach (var s in snapshot.Services)
            _log.Info($"service {s.Name} {Core.Packets.Ipv4.Format(s.Vip)}:{s.Port}/{ModeNames.Name((TransportProtocol)s.Protocol)} " +
                      $"mode {ModeNames.Name(s.Mode)} on {Plan.Name(s.IngressPort)} -> {Plan.Name(s.EgressPort)}, {s.Backends.Length} backends");
    }

    /// <summary>Up, and no reverse-path filter on it: re-injected frames come from clients whose route back
    /// is through the node's own interface, not the TAP (../shared/LAB.md item 3).</summary>
    private static void ConfigureTap(string name)
    {
        var system = new RealServer.SystemNetworkControl();
        system.WriteSysctl(RealServer.SysctlNames.Ipv4Conf(name, "rp_filter"), "0");
        system.SetLinkUp(name);
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
                _log.Error($"{name} failed: {e.Message}");
                _stop.Cancel();
            }
        })
        { IsBackground = true, Name = name };
        _threads.Add(thread);
        thread.Start();
    }

    public CancellationToken Stopping => _stop.Token;

    public void Stop() => _stop.Cancel();

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var t in _threads) t.Join(TimeSpan.FromSeconds(5));
        foreach (var d in _drops)
        {
            d.Dispose();
            _log.Info($"ingress drop removed (nft table netdev {d.TableName})");
        }
        _drops.Clear();
        for (var i = _resources.Count - 1; i >= 0; i--) _resources[i].Dispose();
        _resources.Clear();
    }
}
