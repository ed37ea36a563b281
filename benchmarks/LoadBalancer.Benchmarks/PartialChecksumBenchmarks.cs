using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>What the AF_XDP port adds per frame, which the kernel does not tell it: whether the TCP checksum is
/// partial (a header read and a pseudo-header sum), for a frame from the wire (complete checksum) at 64 and 1500
/// bytes, and the repair of a partial one (the pass over the segment only such frames pay). Nothing allocated.</summary>
[MemoryDiagnoser]
public class PartialChecksumBenchmarks
{
    [Params(64, 1500)]
    public int FrameBytes { get; set; }

    private byte[] _complete = [];
    private byte[] _partial = [];
    private byte[] _work = [];
    private int _l4;

    [GlobalSetup]
    public void Setup()
    {
        var payload = new byte[FrameBytes - 54];
        new Random(1).NextBytes(payload);
        var builder = FrameBuilder.Tcp("192.0.2.1", 40000, "10.0.0.100", 80).Payload(payload);
        _complete = builder.Clone().L4Checksum(ChecksumMode.Correct).Build();
        _partial = builder.Clone().L4Checksum(ChecksumMode.Partial).Build();
        _work = new byte[_partial.Length];
        _l4 = builder.L4Offset;
    }

    [Benchmark(Baseline = true)]
    public bool FromTheWire() => PartialChecksum.LooksPartial(_complete);

    [Benchmark]
    public bool PartialRepaired()
    {
        _partial.CopyTo(_work, 0);
        var meta = new FrameMeta { ChecksumNotReady = PartialChecksum.LooksPartial(_work) };
        return PartialChecksum.Complete(ref meta, _work, _l4, 16, isUdp: false);
    }
}
