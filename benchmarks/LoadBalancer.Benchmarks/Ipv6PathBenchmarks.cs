using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>The IPv6 per-packet path (DR6) over 1024 prebuilt TCP flows to an IPv6 service of four backends, beside
/// the IPv4 fixtures on the same interface, as <see cref="PacketPathBenchmarks"/> measures IPv4: the parse alone, the
/// flow hash, and the whole <see cref="PacketProcessor.Process"/> for established and for new flows. Per packet; the
/// path must allocate nothing.</summary>
[MemoryDiagnoser]
public class Ipv6PathBenchmarks
{
    private const int Flows = 1024;
    private const string Vip6 = "2001:db8::100";

    private byte[][] _frames = [];
    private FlowKey6[] _keys = [];
    private TestEngine _engine = null!;
    private TestEngine _newFlowEngine = null!;
    private long _nowMs;
    private long _newFlowNowMs;
    private uint _seed;

    [GlobalSetup]
    public void Setup()
    {
        var pool = Fixtures.Service("pool6", Vip6, 443, TransportProtocol.Tcp,
            Enumerable.Range(1, 4).Select(i => Fixtures.Backend($"pool6-{i}", $"2001:db8:1::{i}", new MacAddress(0x02_00_00_00_06_00UL + (ulong)i))).ToArray());
        var fixtures = Fixtures.Config();
        var config = fixtures with { FlowTableSize = 1 << 16, Services = [.. fixtures.Services, pool] };
        _engine = new TestEngine(config);
        _newFlowEngine = new TestEngine(config);
        _seed = _engine.State.Current.HashSeed;
        _frames = new byte[Flows][];
        _keys = new FlowKey6[Flows];
        for (var i = 0; i < Flows; i++)
        {
            var client = $"2001:db8:ffff::{1 + i / 20000:x}";
            var port = (ushort)(20000 + i);
            _frames[i] = Ipv6FrameBuilder.Tcp(client, port, Vip6, 443).Payload("data").Build();
            _keys[i] = new FlowKey6(IpProtocols.Tcp, Ipv6.Parse(client), Ipv6.Parse(Vip6), port, 443);
            var result = _engine.Send(_frames[i]);
            if (result.Verdict != Verdict.Transmit || !result.Output!.AsSpan(12).SequenceEqual(_frames[i].AsSpan(12)))
                throw new InvalidOperationException($"flow {i} ({_keys[i]}) was not forwarded with only its MACs changed: {result}");
            _frames[i] = result.Output!;
        }
        if (_engine.Processor.Worker.Flows6!.CountLive(_engine.Clock.NowMs) != Flows)
            throw new InvalidOperationException("not every IPv6 flow is in the flow table");
        _nowMs = _engine.Clock.NowMs;
        _newFlowNowMs = _newFlowEngine.Clock.NowMs;
    }

    [Benchmark(OperationsPerInvoke = Flows)]
    public int Parse6()
    {
        var sum = 0;
        foreach (var frame in _frames)
        {
            if (EthernetFrame.TryParse(frame, out var eth) != DropReason.None) continue;
            if (Ipv6Packet.TryParse(eth.Payload, out var ip) != DropReason.None) continue;
            if (TcpSegment.TryParse(ip.Payload, out var tcp) != DropReason.None) continue;
            sum += tcp.SourcePort + (int)(uint)ip.Destination;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Flows)]
    public uint FlowHash6()
    {
        uint sum = 0;
        for (var i = 0; i < _keys.Length; i++) sum += FlowHash.Compute6(_keys[i], _seed);
        return sum;
    }

    /// <summary>The whole path for packets of established IPv6 flows (flow table hit); DR rewrites idempotently.</summary>
    [Benchmark(OperationsPerInvoke = Flows)]
    public int ProcessEstablished6() => CopyingPath.InPlace(_engine.Processor, _frames, _nowMs);

    /// <summary>New IPv6 flows: time jumps past every timeout before each round, so each packet misses, gets a
    /// Maglev pick and claims a slot.</summary>
    [Benchmark(OperationsPerInvoke = Flows)]
    public int ProcessNewFlows6()
    {
        _newFlowNowMs += 10 * FlowTimeouts.Default.TcpEstablishedMs;
        return CopyingPath.InPlace(_newFlowEngine.Processor, _frames, _newFlowNowMs);
    }
}
