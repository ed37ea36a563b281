using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>The CLUSTERIP per-packet path on one node of three, over 1024 flows this node accepted (flow-table
/// hit, re-injection MAC rewrite) and 1024 flows another node owns (ownership hash, table lookup, counted
/// drop): every node pays the second for two thirds of all frames. Each frame is copied into a work buffer
/// first (an owned frame's destination MAC is rewritten); the copy of a 64-byte frame is part of what is
/// measured. The path must allocate nothing.</summary>
[MemoryDiagnoser]
public class ClusterIpPathBenchmarks
{
    private const int Flows = 1024;

    private TestEngine _engine = null!;
    private byte[][] _owned = [];
    private byte[][] _others = [];
    private readonly byte[] _work = new byte[2048];
    private TestEngine _caseEngine = null!;
    private PacketCase[] _cases = [];
    /// <summary>Frames per round of <see cref="ClusterIpFixtureCases"/>, cycling through the cases.</summary>
    private const int FixtureRound = 256;

    [GlobalSetup]
    public void Setup()
    {
        _engine = ClusterFixture.Engine(1, new FakeClock());
        var owned = new List<byte[]>();
        var others = new List<byte[]>();
        for (var i = 0; owned.Count < Flows || others.Count < Flows; i++)
        {
            byte[] Frame(TcpFlags flags) => ClusterFixture.Tcp(i, flags, payload: "x");
            var syn = _engine.Send(Frame(TcpFlags.Syn));
            if (syn.Verdict == Verdict.Transmit && owned.Count < Flows) owned.Add(Frame(TcpFlags.Ack));
            else if (syn.Drop == DropReason.NotOwner && others.Count < Flows) others.Add(Frame(TcpFlags.Ack));
        }
        _owned = owned.ToArray();
        _others = others.ToArray();
    }

    [GlobalSetup(Target = nameof(ClusterIpFixtureCases))]
    public void SetupCases()
    {
        _caseEngine = ClusterFixture.Engine(1, new FakeClock());
        _cases = CopyingPath.Prepare(_caseEngine, ClusterFixture.Cases());
    }

    /// <summary>The shared CLUSTERIP fixture cases (translated, refused and passed frames of every kind), cycled.</summary>
    [Benchmark(OperationsPerInvoke = FixtureRound)]
    public int ClusterIpFixtureCases() => CopyingPath.Cycle(_caseEngine, _cases, _work, FixtureRound);

    [Benchmark(OperationsPerInvoke = Flows)]
    public int ClusterIpOwnedEstablished() => CopyingPath.Count(_engine, _owned, _work, default, Verdict.Transmit);

    [Benchmark(OperationsPerInvoke = Flows)]
    public int ClusterIpNotOwned() => CopyingPath.Count(_engine, _others, _work, default, Verdict.Drop);
}
