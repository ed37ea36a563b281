using LoadBalancer.Core.IO;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>The measured loops. Paths that rewrite frames in place for good (NAT, CLUSTERIP re-injection) copy each
/// frame into a work buffer first, so every round sees the same input; the copy is measured too. DR's rewrite is
/// idempotent, so its frames go through as they are (<see cref="InPlace"/>).</summary>
internal static class CopyingPath
{
    /// <summary>Copies each of <paramref name="frames"/> into <paramref name="work"/> and runs it through the
    /// engine's packet path with a fresh copy of <paramref name="meta"/>; the number that got <paramref name="counted"/>.</summary>
    public static int Count(TestEngine engine, byte[][] frames, byte[] work, FrameMeta meta, Verdict counted)
    {
        var count = 0;
        foreach (var frame in frames)
        {
            var span = work.AsSpan(0, frame.Length);
            frame.CopyTo(span);
            var frameMeta = meta;
            if (engine.Process(span, ref frameMeta) == counted) count++;
        }
        return count;
    }

    /// <summary>A table's cases on one engine: every setup frame once, then each case checked once against its
    /// expected verdict and output (as the tests do) before anything is timed.</summary>
    public static PacketCase[] Prepare(TestEngine engine, IReadOnlyList<PacketCase> cases)
    {
        foreach (var c in cases)
            foreach (var frame in c.Setup ?? []) engine.Send(frame);
        foreach (var c in cases)
            if (PacketCases.Mismatch(c, engine.Send(c.Input, c.Meta)) is { } problem) throw new InvalidOperationException(problem);
        return [.. cases];
    }

    /// <summary><paramref name="frames"/> packets cycling through <paramref name="cases"/>, each copied into the work
    /// buffer first; the number transmitted.</summary>
    public static int Cycle(TestEngine engine, PacketCase[] cases, byte[] work, int frames)
    {
        var transmitted = 0;
        for (int i = 0, k = 0; i < frames; i++, k = k + 1 == cases.Length ? 0 : k + 1)
        {
            var input = cases[k].Input;
            var span = work.AsSpan(0, input.Length);
            input.CopyTo(span);
            var meta = cases[k].Meta;
            if (engine.Process(span, ref meta) == Verdict.Transmit) transmitted++;
        }
        return transmitted;
    }

    /// <summary>Each of <paramref name="frames"/> through the processor as it is (DR rewrites in place idempotently,
    /// so the same frames serve every round); the number transmitted.</summary>
    public static int InPlace(Core.Forwarding.PacketProcessor processor, byte[][] frames, long nowMs)
    {
        var transmitted = 0;
        foreach (var frame in frames)
        {
            var meta = default(FrameMeta);
            if (processor.Process(frame, ref meta, nowMs) == Verdict.Transmit) transmitted++;
        }
        return transmitted;
    }
}
