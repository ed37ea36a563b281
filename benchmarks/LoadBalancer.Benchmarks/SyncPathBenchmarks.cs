using System.Net;
using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Sync;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>What HA state sync adds to the data path, on an engine that is master with <c>ha.sync</c> set:
/// new DR flows each offering a record to the worker's outbound ring (drained after each round, as the sync
/// thread does, and the drain is measured too), established flows (a null check and nothing offered), and the
/// backup's side: merging the peer's records into the flow table between batches. All of it must allocate nothing.</summary>
[MemoryDiagnoser]
public class SyncPathBenchmarks
{
    private const int Flows = 1024;

    private TestEngine _engine = null!;
    private TestEngine _backup = null!;
    private byte[][] _frames = [];
    private SyncRecord[] _records = [];
    private long _nowMs;
    private long _backupNowMs;

    private static BalancerConfig Config(HaRole role) => Fixtures.Config() with
    {
        FlowTableSize = 1 << 16,
        Ha = new HaConfig { InitialRole = role, Sync = new HaSyncConfig { Peer = IPAddress.Parse("10.0.0.3") } },
    };

    [GlobalSetup]
    public void Setup()
    {
        _engine = new TestEngine(Config(HaRole.Master));
        _backup = new TestEngine(Config(HaRole.Backup));
        _frames = Fixtures.PoolFlows(Flows);
        _nowMs = _engine.Clock.NowMs;
        _backupNowMs = _backup.Clock.NowMs;
        foreach (var frame in _frames)
            if (_engine.Send(frame).Verdict != Verdict.Transmit) throw new InvalidOperationException("a pool flow was not forwarded");
        var sync = Sync(_engine);
        _records = new SyncRecord[Flows];
        for (var i = 0; i < Flows; i++)
            if (!sync.Outbound.TryRead(out _records[i])) throw new InvalidOperationException($"flow {i} was not offered to the peer");
    }

    private static WorkerSync Sync(TestEngine engine) => engine.Processor.Worker.Sync!;

    /// <summary>New flows (time jumps past every timeout before each round), each offered to the peer.</summary>
    [Benchmark(OperationsPerInvoke = Flows)]
    public int ProcessNewFlowsOffered()
    {
        _nowMs += 10 * FlowTimeouts.Default.TcpEstablishedMs;
        var transmitted = CopyingPath.InPlace(_engine.Processor, _frames, _nowMs);
        var ring = Sync(_engine).Outbound;
        while (ring.TryRead(out _)) { }
        return transmitted;
    }

    /// <summary>Established flows on the same engine: no change of state, nothing offered.</summary>
    [Benchmark(OperationsPerInvoke = Flows)]
    public int ProcessEstablishedSynced() => CopyingPath.InPlace(_engine.Processor, _frames, _nowMs);

    /// <summary>The backup merging the peer's records: found by service and backend, hashed, inserted or updated.</summary>
    [Benchmark(OperationsPerInvoke = Flows)]
    public long InstallPeerFlows()
    {
        var sync = Sync(_backup);
        _backupNowMs += 1;
        foreach (var r in _records)
        {
            var record = r;
            record.LastSeenMs = _backupNowMs;
            sync.Inbound.TryWrite(record);
        }
        sync.Housekeep(_backup.State.Current, _backup.Processor.Worker, _backupNowMs);
        return sync.Installed;
    }
}
