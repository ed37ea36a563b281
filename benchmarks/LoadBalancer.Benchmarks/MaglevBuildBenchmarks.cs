using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Benchmarks;

/// <summary>Control-plane cost of building a Maglev table of the default size (65537) on reload.</summary>
[MemoryDiagnoser]
public class MaglevBuildBenchmarks
{
    private MaglevBackend[] _backends = [];

    [Params(10, 100, 1000)]
    public int Backends { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _backends = Enumerable.Range(1, Backends).Select(i => new MaglevBackend($"backend-{i}", 100)).ToArray();
        var table = MaglevTable.Build(_backends);
        if (table.Size != MaglevTable.DefaultSize || table.IsEmpty)
            throw new InvalidOperationException("Maglev table was not built as expected");
    }

    [Benchmark]
    public MaglevTable Build() => MaglevTable.Build(_backends);
}
