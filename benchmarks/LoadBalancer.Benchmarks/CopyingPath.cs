using LoadBalancer.Core.IO;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>The measured loop of the paths that rewrite frames in place (NAT, CLUSTERIP re-injection): each
/// frame is copied into a work buffer first, so every round sees the same input; the copy is measured too.</summary>
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
}
