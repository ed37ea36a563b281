using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Benchmarks;

/// <summary>The cost of one new flow's backend pick alone, per scheduler: Maglev's table index against the two
/// O(backends) walks (wlc, wrr), so what a count-based scheduler adds to <c>ProcessNewFlows</c> is known before it is
/// wired into the forwarders. Every pick must allocate nothing (0 B).</summary>
[MemoryDiagnoser]
public class SchedulerPickNewFlowsBenchmarks
{
    private const int Picks = 1024;

    private MaglevTable _table = null!;
    private int[] _weights = [];
    private int[] _active = [];
    private bool[] _full = [];
    private long[] _credits = [];

    [Params(8, 64)]
    public int Backends { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _table = MaglevTable.Build(Enumerable.Range(1, Backends).Select(i => new MaglevBackend($"backend-{i}", 100)).ToArray());
        _weights = Enumerable.Range(0, Backends).Select(i => 50 + 25 * (i % 3)).ToArray();
        // Counts that leave several backends tied, so wlc's second pass (the hash among ties) is timed too.
        _active = Enumerable.Range(0, Backends).Select(i => i % 4 == 0 ? 0 : 10 + i).ToArray();
        _full = new bool[Backends];
        _full[1] = true;
        _credits = new long[Backends];

        if (_table.Lookup(12345) < 0) throw new InvalidOperationException("Maglev table is empty");
        var wlc = WeightedLeastConnections.Pick(_weights, _active, _full, 12345);
        if (wlc < 0 || _active[wlc] != 0) throw new InvalidOperationException($"wlc picked {wlc}, not a backend with 0 active");
        var wrr = WeightedRoundRobin.Pick(_weights, _full, _credits);
        if (wrr < 0 || _full[wrr]) throw new InvalidOperationException($"wrr picked {wrr}");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Picks)]
    public int Maglev()
    {
        var sum = 0;
        for (var i = 0; i < Picks; i++) sum += _table.Lookup((uint)i * 2654435761u);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Picks)]
    public int Wlc()
    {
        var sum = 0;
        for (var i = 0; i < Picks; i++) sum += WeightedLeastConnections.Pick(_weights, _active, _full, (uint)i * 2654435761u);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Picks)]
    public int Wrr()
    {
        var sum = 0;
        for (var i = 0; i < Picks; i++) sum += WeightedRoundRobin.Pick(_weights, _full, _credits);
        return sum;
    }
}
