namespace LoadBalancer.Core.IO;

/// <summary>A port over memory: runs the real pipeline without a NIC (tests, benchmarks, offline replays).
/// Frames are copied into a working buffer before handling so the originals can be replayed.</summary>
public sealed class InMemoryFramePort(string name = "mem0") : IFramePort
{
    private readonly Queue<(byte[] Frame, FrameMeta Meta)> _pending = new();
    private readonly byte[] _work = new byte[65536 + 256];

    public string Name { get; } = name;

    public void Enqueue(byte[] frame, FrameMeta meta = default) => _pending.Enqueue((frame, meta));

    public int Poll(IFrameHandler handler, int timeoutMs)
    {
        var n = 0;
        while (_pending.TryDequeue(out var item))
        {
            var span = _work.AsSpan(0, item.Frame.Length);
            item.Frame.CopyTo(span);
            var meta = item.Meta;
            handler.Handle(span, ref meta);
            n++;
            // One frame per batch: the work buffer is reused, so queued transmits must be flushed first.
            handler.EndOfBatch();
        }
        return n;
    }

    public void Dispose() { }
}

/// <summary>Collects transmitted frames (copies) for assertions.</summary>
public sealed class InMemoryTransmitter : IFrameTransmitter
{
    private readonly List<(byte[] Frame, FrameMeta Meta)> _queued = new();

    public List<(byte[] Frame, FrameMeta Meta)> Sent { get; } = new();

    public void Enqueue(Span<byte> frame, in FrameMeta meta) => _queued.Add((frame.ToArray(), meta));

    public int Flush()
    {
        Sent.AddRange(_queued);
        _queued.Clear();
        return 0;
    }
}
