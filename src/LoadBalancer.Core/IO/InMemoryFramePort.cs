namespace LoadBalancer.Core.IO;

/// <summary>A port over memory: runs the real pipeline without a NIC (tests, benchmarks, offline replays).
/// Frames are copied into a working buffer before handling so the originals can be replayed. A poll on an
/// empty port waits up to its timeout for a frame, as a ring does, so a worker thread reading it idles
/// instead of spinning.</summary>
public sealed class InMemoryFramePort(string name = "mem0") : IFramePort
{
    private readonly Queue<(byte[] Frame, FrameMeta Meta)> _pending = new();
    private readonly byte[] _work = new byte[65536 + 256];
    private readonly object _gate = new();

    public string Name { get; } = name;

    public void Enqueue(byte[] frame, FrameMeta meta = default)
    {
        lock (_gate)
        {
            _pending.Enqueue((frame, meta));
            Monitor.PulseAll(_gate);
        }
    }

    public int Poll(IFrameHandler handler, int timeoutMs)
    {
        var n = 0;
        while (TryTake(n == 0 ? timeoutMs : 0, out var item))
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

    private bool TryTake(int timeoutMs, out (byte[] Frame, FrameMeta Meta) item)
    {
        lock (_gate)
        {
            if (_pending.Count == 0 && timeoutMs > 0) Monitor.Wait(_gate, timeoutMs);
            return _pending.TryDequeue(out item);
        }
    }

    public void Dispose() { }
}

/// <summary>Collects transmitted frames (copies) for assertions.</summary>
public sealed class InMemoryTransmitter : IFrameTransmitter
{
    private readonly List<(byte[] Frame, FrameMeta Meta)> _queued = new();
    private readonly object _gate = new();

    /// <summary>Everything flushed so far. Read it from another thread only under <see cref="SentSnapshot"/>.</summary>
    public List<(byte[] Frame, FrameMeta Meta)> Sent { get; } = new();

    public IReadOnlyList<(byte[] Frame, FrameMeta Meta)> SentSnapshot()
    {
        lock (_gate) return Sent.ToArray();
    }

    public void Enqueue(Span<byte> frame, in FrameMeta meta) => _queued.Add((frame.ToArray(), meta));

    public int Flush()
    {
        lock (_gate) Sent.AddRange(_queued);
        _queued.Clear();
        return 0;
    }
}
