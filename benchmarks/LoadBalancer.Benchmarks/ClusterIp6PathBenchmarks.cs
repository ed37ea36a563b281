using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>The CLUSTERIP6 per-packet path on one node of three, as <see cref="ClusterIpPathBenchmarks"/> measures IPv4:
/// 1024 IPv6 flows this node accepted (IPv6 flow-table hit, re-injection MAC rewrite), 1024 another node owns (the IPv6
/// ownership hash over five words, table lookup, counted drop), and the IPv6 fixture cases cycled. Each frame is copied
/// into a work buffer first; the copy of a 90-byte frame is part of what is measured. The path must allocate nothing.
/// Every frame's verdict is checked once before anything is timed.</summary>
[MemoryDiagnoser]
public class ClusterIp6PathBenchmarks
{
    private const int Flows = 1024;

    private TestEngine _engine = null!;
    private byte[][] _owned = [];
    private byte[][] _others = [];
    private readonly byte[] _work = new byte[2048];
    private TestEngine _caseEngine = null!;
    private PacketCase[] _cases = [];
    private const int FixtureRound = 256;

    [GlobalSetup]
    public void Setup()
    {
        _engine = ClusterFixture.Engine6(1, new FakeClock());
        var owned = new List<byte[]>();
        var others = new List<byte[]>();
        for (var i = 0; owned.Count < Flows || others.Count < Flows; i++)
        {
            byte[] Frame(TcpFlags flags) => ClusterFixture.Tcp6(i, flags, payload: "x");
            var syn = _engine.Send(Frame(TcpFlags.Syn));
            if (syn.Verdict == Verdict.Transmit && owned.Count < Flows) owned.Add(Frame(TcpFlags.Ack));
            else if (syn.Drop == DropReason.NotOwner && others.Count < Flows) others.Add(Frame(TcpFlags.Ack));
        }
        _owned = owned.ToArray();
        _others = others.ToArray();
        if (CopyingPath.Count(_engine, _owned, _work, default, Verdict.Transmit) != Flows)
            throw new InvalidOperationException("not every owned IPv6 flow is re-injected");
        if (CopyingPath.Count(_engine, _others, _work, default, Verdict.Drop) != Flows)
            throw new InvalidOperationException("not every other node's IPv6 flow is refused");
    }

    [GlobalSetup(Target = nameof(ClusterIp6FixtureCases))]
    public void SetupCases()
    {
        _caseEngine = ClusterFixture.Engine6(1, new FakeClock());
        _cases = CopyingPath.Prepare(_caseEngine, ClusterFixture.Cases6());
    }

    /// <summary>The shared CLUSTERIP6 fixture cases (re-injected, refused and passed frames of every kind), cycled.</summary>
    [Benchmark(OperationsPerInvoke = FixtureRound)]
    public int ClusterIp6FixtureCases() => CopyingPath.Cycle(_caseEngine, _cases, _work, FixtureRound);

    [Benchmark(OperationsPerInvoke = Flows)]
    public int ClusterIp6OwnedEstablished() => CopyingPath.Count(_engine, _owned, _work, default, Verdict.Transmit);

    [Benchmark(OperationsPerInvoke = Flows)]
    public int ClusterIp6NotOwned() => CopyingPath.Count(_engine, _others, _work, default, Verdict.Drop);
}
