using LoadBalancer.Core.IO;

namespace LoadBalancer.Core.Forwarding;

/// <summary>One data-path thread: polls its port, runs each frame through its processor and queues
/// transmits per egress port, flushing them at the end of each batch (before the port recycles the
/// batch's memory). Owns its flow table; shares nothing writable with other workers but the neighbour table.</summary>
public sealed class ForwardingWorker : IFrameHandler
{
    private readonly PacketProcessor _processor;
    private readonly IFramePort[] _ports;
    private readonly IFrameTransmitter[] _transmitters;
    private readonly Func<long> _clockMs;
    private long _nowMs;

    public ForwardingWorker(PacketProcessor processor, IFramePort port, IFrameTransmitter[] transmitters, Func<long>? clockMs = null)
        : this(processor, [port], transmitters, clockMs)
    {
    }

    /// <summary>A worker reading several ports: NAT needs the client side and the backend side of a flow on
    /// the same worker, since both directions use its session table.</summary>
    public ForwardingWorker(PacketProcessor processor, IFramePort[] ports, IFrameTransmitter[] transmitters, Func<long>? clockMs = null)
    {
        _processor = processor;
        _ports = ports;
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
            if (_ports.Length == 1)
            {
                _ports[0].Poll(this, pollTimeoutMs);
                continue;
            }
            var handled = 0;
            foreach (var port in _ports) handled += port.Poll(this, 0);
            // Idle: wait on each port in turn for at most a millisecond, about what a ring block's
            // timeout already costs, so neither side waits long for the other.
            if (handled == 0)
                foreach (var port in _ports) port.Poll(this, 1);
        }
    }

    /// <summary>One poll, for tests and offline replays.</summary>
    public int RunOnce(int timeoutMs = 0)
    {
        _nowMs = _clockMs();
        var handled = 0;
        foreach (var port in _ports) handled += port.Poll(this, timeoutMs);
        return handled;
    }

    public Verdict Handle(Span<byte> frame, ref FrameMeta meta)
    {
        var verdict = _processor.Process(frame, ref meta, _nowMs);
        if (verdict == Verdict.Transmit)
        {
            _transmitters[meta.EgressPort].Enqueue(meta.TransmitLength > 0 ? frame[..meta.TransmitLength] : frame, meta);
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
        // A few expired NAT sessions leave per batch, so sessions whose flows went silent free their slots.
        // An engine without NAT sessions skips it: the sweep would walk cold slots for nothing.
        var sessions = _processor.Sessions;
        if (sessions.Count > 0) sessions.Sweep(_nowMs, 64);
        _nowMs = _clockMs();
    }
}
