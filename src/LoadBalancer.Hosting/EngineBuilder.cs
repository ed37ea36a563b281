using System.Globalization;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.Nat;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Sync;
using LoadBalancer.Hosting.Sync;
using LoadBalancer.Hosting.Platform;

namespace LoadBalancer.Hosting;

/// <summary>How an engine is built beyond its config: its clock (the workers' and the membership changes'; tests
/// pass a fake one) and its log.</summary>
public sealed record EngineOptions
{
    public Func<long> ClockMs { get; init; } = () => Environment.TickCount64;
    public EngineLog Log { get; init; } = new(TextWriter.Null);
}

/// <summary>The composition root, the one place the engine's graph is wired, for <c>lb run</c> and the tests
/// alike: reads the interfaces, creates the CLUSTERIP TAP, builds the first snapshot, opens one receive port per
/// worker and interface it reads with a transmitter per interface, and prepares the ARP services, the ingress
/// drops, the heartbeats and state sync (<see cref="Engine.Start"/> starts them). What the kernel provides comes from the
/// <see cref="EnginePlatform"/>. A failure part way disposes what was opened.</summary>
public static class EngineBuilder
{
    public static Engine Build(BalancerConfig config, EnginePlatform platform, EngineOptions? options = null)
    {
        options ??= new EngineOptions();
        var engine = new Engine(config, platform, options);
        try
        {
            Wire(engine, config, platform, options);
            return engine;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    private static void Wire(Engine engine, BalancerConfig config, EnginePlatform platform, EngineOptions options)
    {
        var plan = engine.Interfaces;
        foreach (var s in config.Services)
            foreach (var name in new[] { s.Interface, s.EffectiveBackendInterface })
            {
                var link = platform.Links.Read(name);
                plan.Add(name, link.Mac, link.Ipv4Address, link.Mtu, link.Ipv6Address);
            }
        RefuseUnsolicitable(config, plan);
        // Before anything of the kernel is touched: a second engine here would replace this one's ingress drop.
        for (var i = 0; i < plan.Count; i++)
            engine.Own(platform.Claims.TryClaim(plan.Name(i)) ?? throw new InterfaceInUseException(plan.Name(i)));

        var builder = new SnapshotBuilder(engine.Neighbors, plan, options.ClockMs);
        // CLUSTERIP: one TAP per engine re-injects the frames this node owns into its own stack.
        IReinjectDevice? tap = null;
        if (config.Services.FirstOrDefault(s => s.Mode == ForwardingMode.ClusterIp) is { } clustered)
        {
            var tapName = "lbc" + platform.Links.Read(clustered.Interface).IfIndex.ToString(CultureInfo.InvariantCulture);
            tap = engine.Own(platform.ReinjectDevices.Create(tapName, ipv6: config.Services.Any(s => s.Mode == ForwardingMode.ClusterIp && s.IsIpv6)));
            var tapLink = platform.Links.Read(tapName);
            builder.ReinjectInterface = plan.Add(tapName, tapLink.Mac, 0, tapLink.Mtu);
            options.Log.Info($"re-injecting owned CLUSTERIP flows through TAP {tapName} ({tapLink.Mac})");
        }
        engine.Control = new EngineControl(config, builder, options.Log);
        engine.Own(engine.Control.Events);
        engine.Roles.RoleChanged += (was, now, by) => engine.Control.Events.Record(
            new Events.StateChange("", "", Events.StateChangeKind.Role, ModeNames.Name(was), ModeNames.Name(now), $"asked by {by}"));
        var topology = engine.Topology = EngineTopology.From(config, engine.State.Current);

        // State sync: one switch for the engine, one pair of rings per worker, listed per client-side interface in the
        // workers' fanout order, which is where the receiver finds the worker that will see a synced flow.
        var syncSwitch = config.Ha?.Sync is null ? null : new SyncSwitch();
        var syncByInterface = topology.Ingress.ToDictionary(i => i, _ => new List<WorkerSync>());
        // Only where IPv6 is served: its slots are larger, and an IPv4-only engine should not hold them.
        var servesIpv6 = engine.State.Current.HasIpv6;
        var servesNat66 = config.Services.Any(s => s.IsIpv6 && s.Mode == ForwardingMode.Nat);
        foreach (var ingress in topology.Ingress)
        {
            for (var w = 0; w < config.Workers; w++)
            {
                var owner = new PortOwner(engine.WorkerCount, w);
                var ports = new List<IReceivePort> { Receiver(engine, platform, config, topology, ingress, owner) };
                foreach (var mac in topology.Multicast[ingress]) ports[0].JoinMulticast(mac);
                foreach (var reply in topology.Replies.Where(r => r != ingress))
                    ports.Add(Receiver(engine, platform, config, topology, reply, owner));
                var transmitters = new IFrameTransmitter[plan.Count];
                for (var i = 0; i < plan.Count; i++)
                    transmitters[i] = i == builder.ReinjectInterface && tap is not null
                        ? tap
                        : engine.Own(platform.Frames.OpenTransmitter(plan.Name(i), ports.FirstOrDefault(p => p.Name == plan.Name(i)), owner));
                var counters = new WorkerCounters();
                var sync = syncSwitch is null ? null : new WorkerSync(syncSwitch);
                var state = new WorkerState(counters, new FlowTable<FlowKey>(config.FlowTableSize, config.FlowTimeouts.ToFlowTimeouts(), counters.Tally),
                    new NatSessionTable<FlowKey>(config.SessionTableSize, counters), engine.Neighbors, plan)
                {
                    Flows6 = servesIpv6 ? new FlowTable<FlowKey6>(config.FlowTableSize, config.FlowTimeouts.ToFlowTimeouts(), counters.Tally) : null,
                    Load = engine.Load,
                    // Only where an IPv6 NAT service is served: an engine without one should not hold the slots.
                    Sessions6 = servesNat66 ? new NatSessionTable<FlowKey6>(config.SessionTableSize, counters) : null,
                    Sync = sync,
                    NewFlows = config.NewFlowRate is { } rate ? new NewFlowRate(rate, options.ClockMs()) : null,
                };
                engine.Load.Add(counters.Tally);
                if (sync is not null) syncByInterface[ingress].Add(sync);
                var processor = new PacketProcessor(engine.State, state);
                var cpu = config.Cpus.Count > 0 ? config.Cpus[engine.WorkerCount % config.Cpus.Count] : -1;
                engine.AddWorker(new ForwardingWorker(processor, engine.State, ports.ToArray<IFramePort>(), transmitters, options.ClockMs),
                    plan.Name(ingress), w, cpu);
            }
        }

        if (config.Announce is { } announce)
            engine.Announcer = engine.Own(new VipAnnouncer(platform.Routes.Open(announce.Table), announce.Table, engine.State, options.Log));

        if (config.Ha?.Sync is { } syncConfig)
            engine.Sync = engine.Own(new StateSync(syncConfig, platform.Sync.Open(syncConfig.Peer, syncConfig.Port, syncConfig.Interface), syncSwitch!,
                engine.Roles, engine.State, syncByInterface.ToDictionary(p => p.Key, p => p.Value.ToArray()), options.ClockMs, options.Log));

        for (var i = 0; i < plan.Count; i++)
        {
            if (i == builder.ReinjectInterface) continue; // no ARP on the TAP
            var socket = engine.Own(platform.Arp.Open(plan.Name(i)));
            if (topology.Multicast.TryGetValue(i, out var macs))
                foreach (var mac in macs) socket.JoinMulticast(mac);
            var responder = new ArpResponder(engine.State, engine.Neighbors, plan);
            engine.AddArp(responder, new ArpService(socket, i, responder, engine.Neighbors, plan, engine.Roles, options.Log), plan.Name(i));
        }
        WireNeighborDiscovery(engine, platform, topology, builder.ReinjectInterface, options);
    }

    /// <summary>An IPv6 backend or gateway without <c>mac:</c> is found by a neighbour solicitation, which needs an IPv6
    /// source on the interface it is reached through; without one the service can never forward, so it is a start
    /// error naming the line (<c>lb check</c> does not look at interfaces).</summary>
    /// <exception cref="InvalidOperationException">Such a neighbour behind an interface with no IPv6 address.</exception>
    private static void RefuseUnsolicitable(BalancerConfig config, InterfacePlan plan)
    {
        foreach (var s in config.Services)
        {
            if (Unsolicitable(s, plan) is not { } n) continue;
            throw new InvalidOperationException(n.Backend is { } backend
                ? $"{AtLine(n.Line)}service {s.Name}: backend {backend.Name} ({backend.Address}) is reached through {n.Interface}, " +
                  $"which has no IPv6 address to solicit its MAC from: give {n.Interface} one (a link-local one will do) or the backend a mac:"
                : $"{AtLine(n.Line)}service {s.Name}: gateway {s.Gateway} is reached through {n.Interface}, " +
                  $"which has no IPv6 address to solicit its MAC from: give {n.Interface} one (a link-local one will do)");
        }
    }

    /// <summary>The first IPv6 neighbour of <paramref name="s"/> that would have to be solicited through an interface of
    /// <paramref name="plan"/> with no IPv6 address to solicit from: a backend without <c>mac:</c>, or (Backend null) an
    /// IPv6 gateway; null when there is none. At start and at a reload alike.</summary>
    internal static (BackendConfig? Backend, string Interface, int Line)? Unsolicitable(ServiceConfig s, InterfacePlan plan)
    {
        static bool NoAddress6(InterfacePlan plan, string name) => plan.Contains(name) && plan.Address6(plan.IndexOf(name)) == 0;
        var backendSide = s.EffectiveBackendInterface;
        if (NoAddress6(plan, backendSide)
            && s.Backends.FirstOrDefault(b => b.Mac is null && b.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) is { } backend)
            return (backend, backendSide, backend.Line);
        if (s.Gateway is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } && NoAddress6(plan, s.Interface))
            return (null, s.Interface, s.KeyLines.TryGetValue("gateway", out var line) ? line : s.Line);
        return null;
    }

    private static string AtLine(int line) => line > 0 ? $"line {line}: " : "";

    /// <summary>Neighbour discovery on each interface with IPv6 services or IPv6 neighbours, and only there (an all-IPv4
    /// engine opens no such socket). Its socket joins the VIPs' multicast MACs (CLUSTERIP), as ARP's does; the service joins
    /// the VIPs' solicited-node groups itself, as reloads change them.</summary>
    /// <exception cref="InvalidOperationException">An IPv6 neighbour to resolve through an interface with no IPv6
    /// address to solicit it from.</exception>
    private static void WireNeighborDiscovery(Engine engine, EnginePlatform platform, EngineTopology topology, int reinjectInterface, EngineOptions options)
    {
        var plan = engine.Interfaces;
        var neighbors = engine.Neighbors;
        for (var i = 0; i < plan.Count; i++)
        {
            if (i == reinjectInterface) continue;
            var responder = new NeighborDiscoveryResponder(engine.State, neighbors, plan);
            var ipv6 = engine.State.Current.Ipv6Services.Any(s => s.IngressInterface == i);
            for (var n = 0; n < neighbors.Count; n++)
            {
                if (neighbors.Interface(n) != i || !neighbors.IsIpv6(n)) continue;
                ipv6 = true;
                if (!neighbors.IsStatic(n) && plan.Address6(i) == 0)
                    throw new InvalidOperationException($"IPv6 neighbor {Ipv6.Format(neighbors.Address6(n))} is reached through {plan.Name(i)}, " +
                                                        $"which has no IPv6 address to solicit its MAC from: give {plan.Name(i)} one (a link-local one will do) or the backend a mac:");
            }
            if (!ipv6) continue;
            var socket = engine.Own(platform.NeighborDiscovery.Open(plan.Name(i)));
            if (topology.Multicast.TryGetValue(i, out var macs))
                foreach (var mac in macs) socket.JoinMulticast(mac);
            engine.AddNeighborDiscovery(responder, new NeighborDiscoveryService(socket, i, responder, neighbors, plan, engine.Roles, options.Log), plan.Name(i));
        }
    }

    private static IReceivePort Receiver(Engine engine, EnginePlatform platform, BalancerConfig config, EngineTopology topology, int index, PortOwner owner)
    {
        // Every worker joins an interface's fanout group in the same order, so each gets its share.
        int? group = config.Workers > 1 ? (Environment.ProcessId ^ (index << 12)) & 0xFFFF : null;
        return engine.OwnReceiver(platform.Frames.OpenReceiver(engine.Interfaces.Name(index), index, group, topology.FanoutFor(index), owner));
    }
}
