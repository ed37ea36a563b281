using LoadBalancer.Core.IO;

namespace LoadBalancer.Core.Forwarding;

/// <summary>One data-path thread: polls its port, runs each frame through its processor and queues
/// transmits per egress port, flushing them at the end of each batch (before the port recycles the
/// batch's memory). Owns its flow table; shares nothing writable with other workers but the neighbour table.</summary>
public sealed class ForwardingWorker : IFrameHandler
{
    private readonly PacketProcessor _processor;
    private readonly IFramePort _port;
    private readonly IFrameTransmitter[] _transmitters;
    private readonly Func<long> _clockMs;
    private long _nowMs;

    public ForwardingWorker(PacketProcessor processor, IFramePort port, IFrameTransmitter[] transmitters, Func<long>? clockMs = null)
    {
        _processor = processor;
        _port = port;
        _transmitters = transmitters;
        _clockMs = clockMs ?? (() => Environment.TickCount64);
        _nowMs = _clockMs();
    }

    public PacketProcessor Processor => _processor;

    public void Run(CancellationToken stop, int pollTimeoutMs = 100)
    {
        while (!stop.IsCancellationRequested)
        {
            _nowMs = _clockMs();
            _port.Poll(this, pollTimeoutMs);
        }
    }

    /// <summary>One poll, for tests and offline replays.</summary>
    public int RunOnce(int timeoutMs = 0)
    {
        _nowMs = _clockMs();
        return _port.Poll(this, timeoutMs);
    }

    public Verdict Handle(Span<byte> frame, ref FrameMeta meta)
    {
        var verdict = _processor.Process(frame, ref meta, _nowMs);
        if (verdict == Verdict.Transmit)
        {
            _transmitters[meta.EgressPort].Enqueue(frame, meta);
            _processor.Counters.TxFrames++;
        }
        return verdict;
    }

    public void EndOfBatch()
    {
        var counters = _processor.Counters;
        foreach (var t in _transmitters)
        {
            var failed = t.Flush();
            if (failed > 0)
            {
                counters.TxFrames -= failed;
                counters.Drops[(int)Packets.DropReason.TransmitFailed] += failed;
            }
        }
        _nowMs = _clockMs();
    }
}
