using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>The whole DR path for new flows (<see cref="PacketPathBenchmarks.ProcessNewFlows"/>) per scheduler, on
/// the packet path itself: Maglev alone (no limit: the table lookup), Maglev with a connection limit on every backend
/// (never reached, so each new flow reads the counts), wlc and wrr. 1024 flows a round, each a flow-table miss and a
/// pick; time jumps past every timeout before each round. The path must allocate nothing.</summary>
[MemoryDiagnoser]
public class SchedulerPathBenchmarks
{
    private const int Flows = 1024;

    public enum Pick { Maglev, MaglevLimited, Wlc, Wrr }

    [Params(Pick.Maglev, Pick.MaglevLimited, Pick.Wlc, Pick.Wrr)]
    public Pick Scheduler { get; set; }

    [Params(4, 32)]
    public int Backends { get; set; }

    private TestEngine _engine = null!;
    private byte[][] _frames = [];
    private long _nowMs;

    [GlobalSetup]
    public void Setup()
    {
        var pool = Fixtures.Pool(Enumerable.Range(1, Backends));
        pool = pool with
        {
            Scheduler = Scheduler switch { Pick.Wlc => SchedulerKind.Wlc, Pick.Wrr => SchedulerKind.Wrr, _ => SchedulerKind.Maglev },
            Backends = Scheduler == Pick.MaglevLimited ? pool.Backends.Select(b => b with { MaxConnections = 1_000_000 }).ToArray() : pool.Backends,
        };
        _engine = new TestEngine(Fixtures.Config(pool) with { FlowTableSize = 1 << 16 });
        _frames = Fixtures.PoolFlows(Flows, Core.Packets.TcpFlags.Syn);
        var used = new HashSet<string>();
        foreach (var frame in _frames)
        {
            var result = _engine.Send(frame);
            if (result.Verdict != Verdict.Transmit) throw new InvalidOperationException($"a new flow was not forwarded under {Scheduler}: {result}");
            used.Add(_engine.BackendOf(result.Output!, "pool"));
        }
        if (used.Count != Backends) throw new InvalidOperationException($"{Scheduler} used {used.Count} of {Backends} backends");
        _nowMs = _engine.Clock.NowMs;
    }

    [Benchmark(OperationsPerInvoke = Flows)]
    public int ProcessNewFlows()
    {
        _nowMs += 10 * FlowTimeouts.Default.TcpEstablishedMs;
        return CopyingPath.InPlace(_engine.Processor, _frames, _nowMs);
    }
}
