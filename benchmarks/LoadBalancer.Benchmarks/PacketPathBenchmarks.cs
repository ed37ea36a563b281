using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.DirectRouting;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>The per-packet path over 1024 prebuilt TCP flows to the fixtures' "pool" service (four backends):
/// each stage alone (parse, flow lookup hit, Maglev pick, DR rewrite) and the whole
/// <see cref="PacketProcessor.Process"/> for established flows (flow table hit) and for new flows (miss,
/// Maglev pick, insert). Results are per packet (OperationsPerInvoke). The packet path must allocate nothing.</summary>
[MemoryDiagnoser]
public class PacketPathBenchmarks
{
    private const int Flows = 1024;

    private byte[][] _frames = [];
    private FlowKey[] _keys = [];
    private uint[] _hashes = [];
    private TestEngine _engine = null!;
    private TestEngine _newFlowEngine = null!;
    private ServiceSnapshot _pool = null!;
    private MacAddress _backendMac;
    private MacAddress _egressMac;
    private uint _seed;
    private long _nowMs;
    private long _newFlowNowMs;
    private PacketCase[] _cases = [];
    private TestEngine _caseEngine = null!;
    private readonly byte[] _work = new byte[65536];
    /// <summary>Frames per round of <see cref="ProcessFixtureCases"/>, cycling through the cases.</summary>
    private const int FixtureRound = 256;

    [GlobalSetup]
    public void Setup()
    {
        var config = Fixtures.Config() with { FlowTableSize = 1 << 16 };
        _engine = new TestEngine(config);
        _newFlowEngine = new TestEngine(config);
        _frames = Fixtures.PoolFlows(Flows);
        _pool = _engine.Service("pool");
        _seed = _engine.State.Current.HashSeed;
        _keys = new FlowKey[Flows];
        _hashes = new uint[Flows];

        // Verify the output once through the real worker, port and transmitter before timing anything:
        // every frame must leave for the backend Maglev picks, with our MAC as source and nothing else changed.
        for (var i = 0; i < Flows; i++)
        {
            var frame = _frames[i];
            _keys[i] = KeyOf(frame);
            _hashes[i] = FlowHash.Compute(_keys[i], _seed);
            var slot = _pool.Table.Lookup(_hashes[i]);
            var number = int.Parse(_pool.Backends[slot].Name["pool-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            var expected = FrameBuilder.WithMacs(frame, Fixtures.PoolBackendMac(number), Fixtures.InterfaceMac);

            var result = _engine.Send(frame);

            if (result.Verdict != Verdict.Transmit || result.Output is null || !result.Output.AsSpan().SequenceEqual(expected))
                throw new InvalidOperationException($"flow {i} ({_keys[i]}) was not forwarded to pool-{number} as expected: {result}");
        }
        if (_engine.Flows.CountLive(_engine.Clock.NowMs) != Flows)
            throw new InvalidOperationException("not every flow is in the flow table");

        // The fixture cases, checked once against their expected verdicts and outputs (as the tests do).
        _caseEngine = new TestEngine(config);
        _cases = CopyingPath.Prepare(_caseEngine, Fixtures.Cases());

        _nowMs = _engine.Clock.NowMs;
        _newFlowNowMs = _newFlowEngine.Clock.NowMs;
        _backendMac = Fixtures.PoolBackendMac(1);
        _egressMac = Fixtures.InterfaceMac;
    }

    private static FlowKey KeyOf(byte[] frame)
    {
        EthernetFrame.TryParse(frame, out var eth);
        Ipv4Packet.TryParse(eth.Payload, out var ip);
        TcpSegment.TryParse(ip.Payload, out var tcp);
        return new FlowKey(ip.Protocol, ip.Source, ip.Destination, tcp.SourcePort, tcp.DestinationPort);
    }

    /// <summary>The shared fixture cases (forwarded, passed and dropped frames of every kind), each copied into
    /// a work buffer first as a port does, so frames rewritten in place are fresh on every round.</summary>
    [Benchmark(OperationsPerInvoke = FixtureRound)]
    public int ProcessFixtureCases() => CopyingPath.Cycle(_caseEngine, _cases, _work, FixtureRound);

    [Benchmark(OperationsPerInvoke = Flows)]
    public int Parse()
    {
        var sum = 0;
        foreach (var frame in _frames)
        {
            if (EthernetFrame.TryParse(frame, out var eth) != DropReason.None) continue;
            if (Ipv4Packet.TryParse(eth.Payload, out var ip) != DropReason.None) continue;
            if (TcpSegment.TryParse(ip.Payload, out var tcp) != DropReason.None) continue;
            sum += tcp.SourcePort + (int)ip.Destination;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Flows)]
    public int FlowLookupHit()
    {
        var flows = _engine.Flows;
        var sum = 0;
        for (var i = 0; i < _keys.Length; i++)
            sum += flows.Find(_keys[i], _hashes[i], _nowMs).BackendId;
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Flows)]
    public int MaglevPick()
    {
        var table = _pool.Table;
        var sum = 0;
        for (var i = 0; i < _keys.Length; i++)
            sum += table.Lookup(FlowHash.Compute(_keys[i], _seed));
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Flows)]
    public void DrRewrite()
    {
        foreach (var frame in _frames)
            DirectRoutingForwarder.Rewrite(frame, _backendMac, _egressMac);
    }

    /// <summary>The whole path for packets of established flows (flow table hit). DR rewrites in place
    /// idempotently, so the same frames can be processed again and again.</summary>
    [Benchmark(OperationsPerInvoke = Flows)]
    public int ProcessEstablished() => CopyingPath.InPlace(_engine.Processor, _frames, _nowMs);

    /// <summary>The whole path for new flows: time jumps past every timeout before each round, so each packet
    /// misses the flow table, gets a Maglev pick and claims a slot.</summary>
    [Benchmark(OperationsPerInvoke = Flows)]
    public int ProcessNewFlows()
    {
        _newFlowNowMs += 10 * FlowTimeouts.Default.TcpEstablishedMs;
        return CopyingPath.InPlace(_newFlowEngine.Processor, _frames, _newFlowNowMs);
    }
}
