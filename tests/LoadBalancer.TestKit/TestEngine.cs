using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.TestKit;

/// <summary>Time that only moves when a test says so.</summary>
public sealed class FakeClock(long startMs = 1_000_000)
{
    public long NowMs { get; set; } = startMs;

    public void Advance(long ms) => NowMs += ms;
}

/// <summary>One interface of the engine under test.</summary>
public readonly record struct TestInterface(string Name, MacAddress Mac, uint Address);

/// <summary>What happened to one frame sent through <see cref="TestEngine.Send"/>.</summary>
public sealed record EngineResult(Verdict Verdict, DropReason Drop, byte[]? Output, FrameMeta OutputMeta)
{
    public override string ToString() => Verdict == Verdict.Drop ? $"Drop({Drop})" : Verdict.ToString();
}

/// <summary>The real data path (snapshot builder, neighbour table, flow table, packet processor, forwarding
/// worker, ARP responder) wired over an <see cref="InMemoryFramePort"/> and one <see cref="InMemoryTransmitter"/>
/// per interface, from a <see cref="BalancerConfig"/> built in code, with a <see cref="FakeClock"/>.</summary>
public sealed class TestEngine
{
    public TestEngine(BalancerConfig config, IReadOnlyList<TestInterface>? interfaces = null, FlowTimeouts? timeouts = null, FakeClock? clock = null,
        int sessionCapacity = 4096, Func<ServiceConfig, int>? reinjectPort = null,
        Func<ServiceConfig, BackendConfig, BackendRuntime>? runtime = null)
    {
        Clock = clock ?? new FakeClock();
        Interfaces = new InterfacePlan();
        foreach (var i in interfaces ?? Fixtures.Interfaces)
            Interfaces.Add(i.Name, i.Mac, i.Address);
        Neighbors = new NeighborTable();
        Builder = new SnapshotBuilder(Neighbors, Interfaces) { ReinjectPortFor = reinjectPort };
        Builder.Clock = () => Clock.NowMs;
        State = new DataPlaneState(Builder.Build(config, runtime));
        Config = config;
        Flows = new FlowTable(config.FlowTableSize, timeouts ?? config.FlowTimeouts.ToFlowTimeouts());
        Counters = new WorkerCounters();
        Processor = new PacketProcessor(State, Neighbors, Flows, Interfaces, Counters, new NatSessionTable(sessionCapacity, Counters));
        Port = new InMemoryFramePort();
        Transmitters = new InMemoryTransmitter[Interfaces.Count];
        for (var i = 0; i < Transmitters.Length; i++) Transmitters[i] = new InMemoryTransmitter();
        Worker = new ForwardingWorker(Processor, Port, Transmitters, () => Clock.NowMs);
        Arp = new ArpResponder(State, Neighbors, Interfaces);
    }

    public BalancerConfig Config { get; private set; }
    public FakeClock Clock { get; }
    public InterfacePlan Interfaces { get; }
    public NeighborTable Neighbors { get; }
    public SnapshotBuilder Builder { get; }
    public DataPlaneState State { get; }
    public FlowTable Flows { get; }
    public WorkerCounters Counters { get; }
    public PacketProcessor Processor { get; }
    public InMemoryFramePort Port { get; }
    public InMemoryTransmitter[] Transmitters { get; }
    public ForwardingWorker Worker { get; }
    public ArpResponder Arp { get; }

    /// <summary>Builds a snapshot from <paramref name="config"/> and publishes it, as a reload does.</summary>
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

    /// <summary>Runs one frame through <see cref="PacketProcessor.Process"/> directly (no port, no copy).</summary>
    public Verdict Process(Span<byte> frame, ref FrameMeta meta) => Processor.Process(frame, ref meta, Clock.NowMs);

    /// <summary>Hands one frame to the ARP responder as if it arrived on <paramref name="port"/>.</summary>
    public ArpAction HandleArp(Span<byte> frame, int port = 0) => Arp.Handle(frame, port, Clock.NowMs);

    public ServiceSnapshot Service(string name) =>
        State.Current.Services.Single(s => s.Name == name);

    /// <summary>The backend a transmitted frame went to, found by its destination MAC.</summary>
    public string BackendOf(byte[] output, string service)
    {
        var mac = MacAddress.Read(output);
        foreach (var b in Service(service).Backends)
            if (Neighbors.Mac(b.NeighborIndex) == mac) return b.Name;
        throw new InvalidOperationException($"{mac} is not the MAC of a backend of {service}");
    }
}
