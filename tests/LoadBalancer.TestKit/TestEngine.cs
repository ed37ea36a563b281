using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting;

namespace LoadBalancer.TestKit;

/// <summary>Time that only moves when a test says so.</summary>
public sealed class FakeClock(long startMs = 1_000_000)
{
    public long NowMs { get; set; } = startMs;

    public void Advance(long ms) => NowMs += ms;
}

/// <summary>What happened to one frame sent through <see cref="TestEngine.Send"/>.</summary>
public sealed record EngineResult(Verdict Verdict, DropReason Drop, byte[]? Output, FrameMeta OutputMeta)
{
    public override string ToString() => Verdict == Verdict.Drop ? $"Drop({Drop})" : Verdict.ToString();
}

/// <summary>The real engine, built by the same <see cref="EngineBuilder"/> as <c>lb run</c>, over a
/// <see cref="FakePlatform"/> (in-memory ports and transmitters, no kernel), from a <see cref="BalancerConfig"/>
/// built in code, with a <see cref="FakeClock"/>. Nothing is started: a test drives worker 0 one frame at a time.</summary>
public sealed class TestEngine
{
    /// <param name="interfaces">The host's interfaces (default <see cref="Fixtures.Interfaces"/>).</param>
    /// <param name="sessionCapacity">NAT sessions per worker (small, unlike the config's default, so engines are cheap).</param>
    /// <param name="tapMac">The MAC of the TAP a CLUSTERIP engine creates.</param>
    public TestEngine(BalancerConfig config, IReadOnlyList<TestInterface>? interfaces = null, FakeClock? clock = null,
        int sessionCapacity = 4096, MacAddress? tapMac = null)
    {
        Clock = clock ?? new FakeClock();
        Config = config with { SessionTableSize = sessionCapacity };
        Platform = new FakePlatform(interfaces ?? Fixtures.Interfaces, tapMac);
        Engine = EngineBuilder.Build(Config, Platform.Platform, new EngineOptions { ClockMs = () => Clock.NowMs });
        Worker = Engine.Workers[0];
        Transmitters = Worker.Transmitters.Select(t => t is FakeTap tap ? tap.Frames : (InMemoryTransmitter)t).ToArray();
    }

    public Engine Engine { get; }
    public FakePlatform Platform { get; }
    public BalancerConfig Config { get; private set; }
    public FakeClock Clock { get; }
    public InterfacePlan Interfaces => Engine.Interfaces;
    public NeighborTable Neighbors => Engine.Neighbors;
    public SnapshotBuilder Builder => Engine.Control.Builder;
    public DataPlaneState State => Engine.State;
    public ForwardingWorker Worker { get; }
    public PacketProcessor Processor => Worker.Processor;
    public FlowTable<FlowKey> Flows => Processor.Flows;
    public WorkerCounters Counters => Processor.Counters;
    /// <summary>Worker 0's first receive port: <see cref="Send"/> puts frames there, with the metadata given.</summary>
    public InMemoryFramePort Port => Platform.Receivers[0].Port;
    /// <summary>Worker 0's transmitter per interface index (the TAP's frames for the re-injection interface).</summary>
    public InMemoryTransmitter[] Transmitters { get; }
    public ArpResponder Arp => Engine.Responders[0];

    /// <summary>Builds a snapshot from <paramref name="config"/> and the given backend states and publishes it,
    /// through the engine's own snapshot builder (as the control plane does).</summary>
    public DataPlaneSnapshot Reload(BalancerConfig config, Func<ServiceConfig, BackendConfig, BackendRuntime>? runtime = null)
    {
        var snapshot = Builder.Build(config, runtime);
        State.Publish(snapshot);
        Config = config;
        return snapshot;
    }

    /// <summary>Runs one frame through the port and worker (one batch) and reports the verdict, the drop
    /// reason and the transmitted frame, worked out from the counters and the transmitters.</summary>
    public EngineResult Send(byte[] frame, FrameMeta meta = default)
    {
        var drops = (long[])Counters.Drops.Clone();
        var passed = Counters.Passed;
        var sent = new int[Transmitters.Length];
        for (var i = 0; i < sent.Length; i++) sent[i] = Transmitters[i].Sent.Count;

        Port.Enqueue(frame, meta);
        Worker.RunOnce();

        for (var i = 0; i < sent.Length; i++)
        {
            if (Transmitters[i].Sent.Count > sent[i])
            {
                var (bytes, outMeta) = Transmitters[i].Sent[^1];
                return new EngineResult(Verdict.Transmit, DropReason.None, bytes, outMeta);
            }
        }
        if (Counters.Passed > passed) return new EngineResult(Verdict.Pass, DropReason.None, null, default);
        for (var r = 0; r < drops.Length; r++)
            if (Counters.Drops[r] > drops[r])
                return new EngineResult(Verdict.Drop, (DropReason)r, null, default);
        throw new InvalidOperationException("the frame was neither transmitted, passed nor dropped");
    }

    /// <summary>One round of the worker with no frame: its housekeeping (the sweep of expired entries) runs at the clock's time.</summary>
    public void Idle() => Worker.RunOnce();

    /// <summary>Runs one frame through <see cref="PacketProcessor.Process(Span{byte}, ref FrameMeta, long)"/> directly (no port, no copy).</summary>
    public Verdict Process(Span<byte> frame, ref FrameMeta meta) => Processor.Process(frame, ref meta, Clock.NowMs);

    /// <summary>Hands one frame to the ARP responder as if it arrived on interface <paramref name="interfaceIndex"/>.</summary>
    public ArpAction HandleArp(Span<byte> frame, int interfaceIndex = 0) => Arp.Handle(frame, interfaceIndex, Clock.NowMs);

    /// <summary>As the ARP thread does: a request for <paramref name="backendIp"/> goes out, and its owner answers from
    /// <paramref name="mac"/> (to our MAC and address on interface 0).</summary>
    public ArpAction AnswerArp(string backendIp, MacAddress mac)
    {
        var address = FrameBuilder.Ip(backendIp);
        for (var i = 0; i < Neighbors.Count; i++)
            if (Neighbors.Address(i) == address && Neighbors.Interface(i) == 0) Neighbors.Asked(i, Clock.NowMs);
        return HandleArp(FrameBuilder.Arp(ArpPacket.OperationReply, Fixtures.InterfaceMac, mac, backendIp, Fixtures.InterfaceMac, Fixtures.InterfaceIp,
            ethernetSource: mac));
    }

    /// <summary>Interface 0's neighbour discovery responder (the engine has one only where IPv6 is served).</summary>
    public NeighborDiscoveryResponder Nd => Engine.NeighborDiscoveryResponders[0];

    /// <summary>Hands one frame to the neighbour discovery responder as if it arrived on interface
    /// <paramref name="interfaceIndex"/>; the advertisement it answers with, or null.</summary>
    public byte[]? HandleNd(Span<byte> frame, int interfaceIndex = 0, bool claimsVips = true)
    {
        var reply = new byte[256];
        return Nd.Handle(frame, reply, out var length, interfaceIndex, Clock.NowMs, claimsVips) == NeighborDiscoveryAction.Reply ? reply[..length] : null;
    }

    /// <summary>As the neighbour discovery thread does: a solicitation for <paramref name="backendIp"/> goes out, and
    /// its owner answers from <paramref name="mac"/> (to our MAC and address on interface 0).</summary>
    public byte[]? AnswerNd(string backendIp, MacAddress mac)
    {
        var address = Ipv6.Parse(backendIp);
        for (var i = 0; i < Neighbors.Count; i++)
            if (Neighbors.IsIpv6(i) && Neighbors.Address6(i) == address && Neighbors.Interface(i) == 0) Neighbors.Asked(i, Clock.NowMs);
        return HandleNd(Ipv6Fixture.AnswerToUs(backendIp, mac));
    }

    public ServiceSnapshot Service(string name) =>
        State.Current.Services.Single(s => s.Name == name);

    /// <summary>A CLUSTERIP service's settings in the current snapshot (its ownership table, quorum, transitions).</summary>
    public ClusterIpSettings Cluster(string name) => ((ClusterIpForwarder)Service(name).Forwarder).Settings;

    /// <summary>The backend a transmitted frame went to, found by its destination MAC.</summary>
    public string BackendOf(byte[] output, string service)
    {
        var mac = MacAddress.Read(output);
        foreach (var b in Service(service).Backends)
            if (Neighbors.Mac(b.NeighborIndex) == mac) return b.Name;
        throw new InvalidOperationException($"{mac} is not the MAC of a backend of {service}");
    }
}
