using System.Diagnostics;
using System.Text;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>The first frame of one kind of failure, with how to replay it.</summary>
internal sealed record FuzzFailure(string World, int Seed, long FrameIndex, string From, string Mutations, Finding Finding, byte[] Input, FrameMeta Meta)
{
    public long Count { get; set; } = 1;
    /// <summary>After <see cref="FrameFuzzer.Minimize"/>: the smallest change from the seed frame that still fails,
    /// on an engine fresh from its setup (null when it fails only after the frames before it).</summary>
    public string? Reproduction { get; set; }
}

/// <summary>What one run of a world did.</summary>
internal sealed class FuzzReport(FuzzWorld world, int seed, FrameChecker checker)
{
    public FuzzWorld World { get; } = world;
    public FrameChecker Checker { get; } = checker;
    public int Seed { get; } = seed;
    public long Frames { get; set; }
    public long Passed { get; set; }
    public long Dropped { get; set; }
    public long Transmitted { get; set; }
    public long IcmpBuilt { get; set; }
    public TimeSpan Elapsed { get; set; }
    public bool StoppedByTime { get; set; }
    public long[] DropsByReason { get; } = new long[(int)DropReason.Count];
    public Dictionary<string, FuzzFailure> Failures { get; } = new();

    public string Summary()
    {
        var top = DropsByReason.Select((n, r) => (n, r)).Where(x => x.n > 0).OrderByDescending(x => x.n).Take(6)
            .Select(x => $"{DropReasonNames.Name((DropReason)x.r)} {x.n}");
        return $"{World.Name}: seed {Seed}, {Frames:N0} frames in {Elapsed.TotalSeconds:F1} s ({Frames / Math.Max(Elapsed.TotalSeconds, 1e-3):N0}/s" +
            $"{(StoppedByTime ? ", stopped by the time bound" : "")}): " +
            $"transmit {Transmitted:N0} (checked {Checker.Checked:N0}, {Checker.CheckedCoherent:N0} with kernel-like metadata; icmp built {IcmpBuilt:N0}), drop {Dropped:N0}, pass {Passed:N0}; drops: {string.Join(", ", top)}; " +
            $"{Failures.Count} kinds of failure";
    }
}

/// <summary>Runs random and mutated frames through a world's real <see cref="Forwarding.PacketProcessor"/>, one at a
/// time, in a buffer with guard bytes on both sides, and judges each: no exception; the verdict is Pass (counted as
/// passed, the frame untouched), Drop (exactly one drop counted) or Transmit (counted for a service, or as an ICMP
/// error built with one mtu_exceeded), and a transmitted frame is what the world's <see cref="FrameChecker"/>
/// allows; the guard bytes are never written. Deterministic for a seed: the frame index names a failing frame
/// (the time bound only decides how far a run gets).</summary>
internal sealed class FrameFuzzer
{
    private const int Guard = 64;
    private const byte GuardByte = 0xC5;
    private const int MaxKinds = 24;

    private readonly byte[] _input = new byte[FrameMutator.Capacity];
    private readonly byte[] _buffer = new byte[Guard + FrameMutator.Capacity + Guard];
    private readonly long[] _dropsBefore = new long[(int)DropReason.Count];

    public FrameFuzzer() => _buffer.AsSpan().Fill(GuardByte);

    public FuzzReport Run(FuzzWorld world, int seed, long maxFrames, TimeSpan budget)
    {
        var checker = world.Checker();
        var report = new FuzzReport(world, seed, checker);
        var random = new Random(seed);
        var mutator = new FrameMutator(random, world.Values);
        var engine = world.Create();
        var clock = Stopwatch.StartNew();
        long i = 0;
        for (; i < maxFrames; i++)
        {
            if ((i & 63) == 0 && clock.Elapsed > budget) break;
            int length;
            FrameMeta meta;
            string from;
            if (random.NextDouble() < world.RandomShare)
            {
                mutator.RandomFrame(_input, out length, out meta);
                from = "random bytes";
            }
            else
            {
                var s = world.Seeds[random.Next(world.Seeds.Count)];
                length = s.Frame.Length;
                s.Frame.CopyTo(_input, 0);
                meta = s.Meta;
                from = s.Name;
                if (random.Next(32) != 0) mutator.Mutate(_input, ref length, ref meta);
            }
            var finding = Evaluate(engine, checker, _input.AsSpan(0, length), meta, out var verdict, out var reason, out var icmp);
            Count(report, verdict, reason, icmp);
            if (finding is not null) Record(report, world, seed, i, from, mutator.Applied, finding, length, meta);
        }
        report.Frames = i;
        report.Elapsed = clock.Elapsed;
        report.StoppedByTime = i < maxFrames;
        return report;
    }

    private static void Count(FuzzReport report, Verdict verdict, DropReason reason, bool icmp)
    {
        switch (verdict)
        {
            case Verdict.Pass: report.Passed++; break;
            case Verdict.Drop: report.Dropped++; report.DropsByReason[(int)reason]++; break;
            case Verdict.Transmit: report.Transmitted++; break;
        }
        if (icmp) report.IcmpBuilt++;
    }

    private void Record(FuzzReport report, FuzzWorld world, int seed, long index, string from, string mutations, Finding finding, int length, FrameMeta meta)
    {
        if (report.Failures.TryGetValue(finding.Category, out var known))
        {
            known.Count++;
            return;
        }
        if (report.Failures.Count >= MaxKinds) return;
        if (finding.Error is { } e)
        {
            var frames = (e.StackTrace ?? "").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            finding = finding with { Detail = $"{e.Message} {string.Join(" ", frames.Take(3))}" };
        }
        report.Failures[finding.Category] = new FuzzFailure(world.Name, seed, index, from, mutations, finding, _input[..length], meta);
    }

    /// <summary>One frame through the processor, judged; the finding, or null when all is well.</summary>
    public Finding? Evaluate(TestEngine engine, FrameChecker checker, ReadOnlySpan<byte> input, FrameMeta inputMeta,
        out Verdict verdict, out DropReason reason, out bool icmpBuilt)
    {
        var length = input.Length;
        var frame = _buffer.AsSpan(Guard, length);
        input.CopyTo(frame);
        _buffer.AsSpan(Guard + length, Guard).Fill(GuardByte);
        var counters = engine.Counters;
        var rx = counters.RxFrames;
        var passed = counters.Passed;
        counters.Drops.CopyTo(_dropsBefore, 0);
        var drops = Sum(counters.Drops);
        var services = Sum(counters.ServicePackets.AsSpan(0, 16));
        var icmp = counters.IcmpSent;
        var limited = counters.IcmpRateLimited;
        var meta = inputMeta;
        reason = DropReason.None;
        icmpBuilt = false;
        try
        {
            verdict = engine.Process(frame, ref meta);
        }
        catch (Exception e)
        {
            verdict = (Verdict)0xFF;
            return Thrown(checker, e, input, inputMeta);
        }

        if (_buffer.AsSpan(0, Guard).ContainsAnyExcept(GuardByte) || _buffer.AsSpan(Guard + length, Guard).ContainsAnyExcept(GuardByte))
            return new("wrote outside the frame", "a guard byte changed");
        if (counters.RxFrames != rx + 1) return new("rx_frames not counted once", $"{counters.RxFrames - rx}");
        var dPassed = counters.Passed - passed;
        var dDrops = Sum(counters.Drops) - drops;
        var dServices = Sum(counters.ServicePackets.AsSpan(0, 16)) - services;
        var dIcmp = counters.IcmpSent - icmp;
        if (dDrops == 1)
            for (var r = 0; r < counters.Drops.Length; r++)
                if (counters.Drops[r] > _dropsBefore[r]) reason = (DropReason)r;
        var outcome = new Outcome
        {
            Input = input, InputMeta = inputMeta, Frame = frame, Meta = meta, Verdict = verdict, Drop = reason, IcmpBuilt = dIcmp == 1,
            IcmpRateLimited = counters.IcmpRateLimited > limited,
        };
        icmpBuilt = dIcmp == 1;
        switch (verdict)
        {
            case Verdict.Pass:
                if (dPassed != 1 || dDrops != 0 || dServices != 0 || dIcmp != 0)
                    return new("pass not counted as exactly one pass", $"passed +{dPassed}, drops +{dDrops}, service packets +{dServices}, icmp +{dIcmp}");
                if (!frame.SequenceEqual(input)) return new($"{checker.Mode}: a passed frame was modified", "the kernel gets its own copy, but a pass should not rewrite");
                return null;
            case Verdict.Drop:
                if (dDrops != 1 || dPassed != 0 || dServices != 0 || dIcmp != 0)
                    return new("drop not counted as exactly one drop", $"drops +{dDrops}, passed +{dPassed}, service packets +{dServices}, icmp +{dIcmp}");
                return checker.CheckDrop(outcome);
            case Verdict.Transmit:
                var counted = (dServices == 1 && dDrops == 0 && dIcmp == 0) || (dIcmp == 1 && dDrops == 1 && dServices == 0);
                if (!counted || dPassed != 0)
                    return new("transmit not counted as one service packet or one icmp error", $"service packets +{dServices}, drops +{dDrops}, icmp +{dIcmp}, passed +{dPassed}");
                return checker.CheckTransmit(outcome);
            default:
                return new("verdict out of range", $"{(int)verdict}");
        }
    }

    /// <summary>An exception, grouped by the engine's method it was thrown from (line numbers move with inlining) and
    /// by two facts that tell triggers apart: GSO metadata, IP options. The stack without file and line lookups: those
    /// read the symbols and cost a millisecond; only the first of a kind gets them (<see cref="Record"/>).</summary>
    private static Finding Thrown(FrameChecker checker, Exception e, ReadOnlySpan<byte> input, in FrameMeta meta)
    {
        var methods = new StackTrace(e, fNeedFileInfo: false).GetFrames().Select(f => f.GetMethod()).OfType<System.Reflection.MethodBase>();
        var at = methods.FirstOrDefault(m => m.DeclaringType?.FullName?.StartsWith("LoadBalancer.Core.", StringComparison.Ordinal) == true);
        var method = at is null ? "?" : $"{at.DeclaringType!.FullName}.{at.Name}";
        var facets = new List<string>();
        if ((meta.Vnet.GsoType & 0x7F) != 0) facets.Add("GSO metadata");
        if (ReferenceDecoder.TryDecode(input, out var v) is null && v.HeaderLength > 20) facets.Add("IP options");
        var facet = facets.Count > 0 ? $" ({string.Join(", ", facets)})" : "";
        return new($"{checker.Mode}: {e.GetType().Name} in {method}{facet}", e.Message, e);
    }

    private static long Sum(ReadOnlySpan<long> values)
    {
        long s = 0;
        foreach (var v in values) s += v;
        return s;
    }

    /// <summary>Replays <paramref name="failure"/> on a fresh engine of its world and, when it fails there too,
    /// reverts each changed metadata field and byte to the seed's as long as it keeps failing the same way, so
    /// the report shows the few bytes that matter.</summary>
    public void Minimize(FuzzWorld world, FuzzFailure failure, TimeSpan budget)
    {
        var clock = Stopwatch.StartNew();
        var seed = world.Seeds.FirstOrDefault(s => s.Name == failure.From);
        bool Fails(byte[] frame, FrameMeta meta) =>
            Evaluate(world.Create(), world.Checker(), frame, meta, out _, out _, out _)?.Category == failure.Finding.Category;

        var input = (byte[])failure.Input.Clone();
        var meta = failure.Meta;
        if (!Fails(input, meta))
        {
            failure.Reproduction = null;
            return;
        }
        if (seed is not null)
        {
            foreach (var revert in MetaReverts(seed.Meta))
            {
                var candidate = revert(meta);
                if (!candidate.Equals(meta) && Fails(input, candidate)) meta = candidate;
            }
            if (input.Length == seed.Frame.Length)
                for (var b = 0; b < input.Length && clock.Elapsed < budget; b++)
                {
                    if (input[b] == seed.Frame[b]) continue;
                    var was = input[b];
                    input[b] = seed.Frame[b];
                    if (!Fails(input, meta)) input[b] = was;
                }
        }
        var sb = new StringBuilder();
        sb.Append($"fresh engine ({world.Name}), frame {FrameBuilder.Hex(input)}, meta {Describe(meta)}");
        if (seed is not null && input.Length == seed.Frame.Length)
        {
            var changed = Enumerable.Range(0, input.Length).Where(b => input[b] != seed.Frame[b]).Select(b => $"[{b}] {seed.Frame[b]:x2}->{input[b]:x2}").ToList();
            sb.Append(changed.Count == 0
                ? $"; seed '{seed.Name}' as it is, with that meta (seed's meta {Describe(seed.Meta)})"
                : $"; from seed '{seed.Name}' with bytes {string.Join(" ", changed)}");
        }
        else if (seed is not null)
        {
            sb.Append($"; from seed '{seed.Name}' ({seed.Frame.Length} bytes) cut or grown to {input.Length}");
        }
        failure.Reproduction = sb.ToString();
    }

    private static IEnumerable<Func<FrameMeta, FrameMeta>> MetaReverts(FrameMeta seed)
    {
        yield return m => m with { Vnet = seed.Vnet };
        yield return m => m with { ChecksumNotReady = seed.ChecksumNotReady };
        yield return m => m with { Truncated = seed.Truncated };
        yield return m => m with { PacketType = seed.PacketType };
        yield return m => m with { IngressInterface = seed.IngressInterface };
    }

    public static string Describe(in FrameMeta m)
    {
        var v = m.Vnet;
        return $"{{ingress {m.IngressInterface}, {m.PacketType}{(m.Truncated ? ", truncated" : "")}{(m.ChecksumNotReady ? ", checksum not ready" : "")}" +
            (v.Flags != 0 || v.GsoType != 0 || v.GsoSize != 0 || v.ChecksumStart != 0 || v.ChecksumOffset != 0 || v.HeaderLength != 0
                ? $", vnet flags {v.Flags} gso_type {v.GsoType} gso_size {v.GsoSize} hdr_len {v.HeaderLength} csum_start {v.ChecksumStart} csum_offset {v.ChecksumOffset}"
                : "") + "}";
    }
}
