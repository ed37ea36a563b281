using System.Text;
using LoadBalancer.Core.Model;
using Xunit.Abstractions;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>Fuzzing of the packet path, every mode: random and mutated frames through the real processor of each
/// world (<see cref="FuzzWorlds"/>), judged by <see cref="FrameFuzzer"/> and the mode's <see cref="FrameChecker"/>.
/// Each test stops after its frame count or its time, whichever comes first (5 million frames, 8 s: on this 2-core VM
/// the count usually comes first, so a run is the same run every time); the seeds are fixed and printed, and a
/// failure names the seed, the frame index and a reproduction on a fresh engine.
/// Replay or stretch a run with LB_FUZZ_SEED (the base seed), LB_FUZZ_SECONDS (per test) and LB_FUZZ_FRAMES (per test).</summary>
public sealed class FrameFuzzTests(ITestOutputHelper output)
{
    private static readonly double Seconds = Setting("LB_FUZZ_SECONDS", 8);
    private static readonly long Frames = (long)Setting("LB_FUZZ_FRAMES", 5_000_000);
    private static readonly int? SeedOverride = Environment.GetEnvironmentVariable("LB_FUZZ_SEED") is { Length: > 0 } s ? int.Parse(s) : null;

    private static double Setting(string name, double fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? double.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    [Fact]
    public void Process_MutatedDirectRoutingFrames_AreDroppedPassedOrForwardedIntact()
    {
        var reports = Fuzz(1201, FuzzWorlds.DirectRouting());
        AssertReached(reports, minimumTransmitShare: 0.05);
    }

    [Fact]
    public void Process_MutatedNatClientFrames_AreTranslatedWithinMtuOrRefused()
    {
        var reports = Fuzz(1202, FuzzWorlds.NatClientSide());
        AssertReached(reports, minimumTransmitShare: 0.05);
        var nat = (NatChecker)reports[0].Checker;
        Assert.True(nat.Forwarded > 0 && nat.FragmentationNeededSent > 0, $"forwarded {nat.Forwarded}, fragmentation needed {nat.FragmentationNeededSent}");
    }

    [Fact]
    public void Process_MutatedNatReplies_HitSessionsAndAreTranslatedOrLeftToTheKernel()
    {
        var reports = Fuzz(1203, FuzzWorlds.NatBackendSide());
        AssertReached(reports, minimumTransmitShare: 0.05);
        Assert.True(((NatChecker)reports[0].Checker).Replied > 0);
    }

    [Fact]
    public void Process_MutatedClusterIpFrames_AreReinjectedIntactOrRefused()
    {
        var reports = Fuzz(1204, FuzzWorlds.ClusterIp(TransportProtocol.Tcp), FuzzWorlds.ClusterIp(TransportProtocol.Udp));
        AssertReached(reports, minimumTransmitShare: 0.02);
    }

    [Fact]
    public void Process_IcmpErrorsQuotingGarbage_AreTranslatedWellFormedOrRefused()
    {
        var reports = Fuzz(1205, FuzzWorlds.NatIcmpErrors());
        AssertReached(reports, minimumTransmitShare: 0.02);
        var nat = (NatChecker)reports[0].Checker;
        Assert.True(nat.IcmpToBackend > 0 && nat.IcmpToClient > 0, $"icmp to backend {nat.IcmpToBackend}, to client {nat.IcmpToClient}");
    }

    [Fact]
    public void Process_FramesAroundSmallBackendMtus_AreForwardedWithinOrAnsweredWithFragmentationNeeded()
    {
        int[] mtus = [68, 80, 94, 95, 96, 100, 576, 1280, 1500];
        var reports = Fuzz(1206, [.. mtus.Select(FuzzWorlds.NatMtu)]);
        AssertReached(reports, minimumTransmitShare: 0.02);
        foreach (var r in reports)
            Assert.True(((NatChecker)r.Checker).FragmentationNeededSent > 0, $"{r.World.Name}: no fragmentation-needed sent");
    }

    [Fact]
    public void Process_RandomFrames_NeverThrowAndAreCountedOnce()
    {
        var worlds = new[] { FuzzWorlds.DirectRouting(), FuzzWorlds.NatClientSide(), FuzzWorlds.NatBackendSide(), FuzzWorlds.ClusterIp(TransportProtocol.Tcp) }
            .Select(w => w with { Name = $"{w.Name}, random frames", RandomShare = 1 }).ToArray();
        var reports = Fuzz(1207, worlds);
        AssertReached(reports, minimumTransmitShare: 0);
    }

    /// <summary>Runs each world for its share of the frames and the time, prints what happened, minimizes the first
    /// frame of each kind of failure and fails with all of them.</summary>
    private List<FuzzReport> Fuzz(int seed, params FuzzWorld[] worlds)
    {
        var baseSeed = SeedOverride ?? seed;
        var fuzzer = new FrameFuzzer();
        var reports = new List<FuzzReport>();
        for (var k = 0; k < worlds.Length; k++)
        {
            var report = fuzzer.Run(worlds[k], baseSeed * 100 + k, Frames / worlds.Length, TimeSpan.FromSeconds(Seconds / worlds.Length));
            output.WriteLine(report.Summary());
            reports.Add(report);
        }
        output.WriteLine($"total: {reports.Sum(r => r.Frames):N0} frames in {reports.Sum(r => r.Elapsed.TotalSeconds):F1} s");

        var failures = reports.SelectMany(r => r.Failures.Values.Select(f => (r.World, Failure: f))).ToList();
        if (failures.Count == 0) return reports;
        // Minimizing replays on fresh engines; bounded so that a failing run stays within the suite's time.
        var minimizing = System.Diagnostics.Stopwatch.StartNew();
        foreach (var (world, failure) in failures)
            if (minimizing.Elapsed < TimeSpan.FromSeconds(3)) fuzzer.Minimize(world, failure, TimeSpan.FromSeconds(0.5));
        var message = new StringBuilder($"{failures.Count} kinds of failure (base seed {baseSeed}; replay with LB_FUZZ_SEED={baseSeed}, " +
            "and LB_FUZZ_SECONDS=120 when the frame index is beyond what a run reaches):\n");
        foreach (var (_, f) in failures)
        {
            message.Append($"- [{f.World}] {f.Finding.Category} ({f.Count:N0} frames)\n");
            message.Append($"    first at frame {f.FrameIndex} of world seed {f.Seed}: {f.Finding.Detail}\n");
            message.Append($"    from {f.From}; mutations: {f.Mutations}\n");
            message.Append($"    input {LoadBalancer.TestKit.FrameBuilder.Hex(f.Input)} meta {FrameFuzzer.Describe(f.Meta)}\n");
            message.Append(f.Reproduction is { } r ? $"    reproduction: {r}\n" : "    does not fail on a fresh engine: depends on the frames before it\n");
        }
        output.WriteLine(message.ToString());
        Assert.Fail(message.ToString());
        return reports;
    }

    /// <summary>A run that stopped early, or whose frames never reached a forwarder, would pass without testing much.</summary>
    private static void AssertReached(List<FuzzReport> reports, double minimumTransmitShare)
    {
        foreach (var r in reports)
        {
            Assert.True(r.Frames >= 10_000, $"{r.World.Name}: only {r.Frames} frames");
            Assert.True(r.Transmitted >= minimumTransmitShare * r.Frames, $"{r.World.Name}: {r.Transmitted} of {r.Frames} frames transmitted");
            Assert.True(r.Dropped > 0 && r.Passed > 0, $"{r.World.Name}: {r.Dropped} dropped, {r.Passed} passed");
        }
    }
}
