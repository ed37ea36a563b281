using LoadBalancer.Core.IO;

namespace LoadBalancer.Core.Forwarding;

/// <summary>One data-path thread: polls its ports, runs each frame through its processor and queues
/// transmits per egress interface, flushing them at the end of each batch (before the port recycles the
/// batch's memory). Owns its flow and session tables; shares nothing writable with other workers but the
/// neighbour table.</summary>
public sealed class ForwardingWorker : IFrameHandler
{
    private readonly PacketProcessor _processor;
    private readonly DataPlaneState _state;
    private readonly IFramePort[] _ports;
    private readonly IFrameTransmitter[] _transmitters;
    private readonly Func<long> _clockMs;
    private long _nowMs;
    // Taken at the first frame of a batch and dropped at its end: every frame of a batch sees the same
    // snapshot, and a change published while the worker idles applies from the next frame on.
    private DataPlaneSnapshot? _snapshot;
    // Times round Run's loop. One writer (this worker's thread), read by the service manager's watchdog from another:
    // a plain increment published with Volatile.Write, no interlocked operation on the data path (a 64-bit store is
    // atomic on the 64-bit targets the engine runs on).
    private long _rounds;

    /// <summary>A worker reading several ports: NAT needs the client side and the backend side of a flow on
    /// the same worker, since both directions use its session table.</summary>
    public ForwardingWorker(PacketProcessor processor, DataPlaneState state, IFramePort[] ports, IFrameTransmitter[] transmitters, Func<long>? clockMs = null)
    {
        _processor = processor;
        _state = state;
        _ports = ports;
        _transmitters = transmitters;
        _clockMs = clockMs ?? (() => Environment.TickCount64);
        _nowMs = _clockMs();
    }

    public PacketProcessor Processor => _processor;

    /// <summary>The transmitter per interface index (the TAP's, for the re-injection interface).</summary>
    public IReadOnlyList<IFrameTransmitter> Transmitters => _transmitters;

    /// <summary>How many times <see cref="Run"/> has gone round its loop: it moves at least once per poll timeout
    /// whether frames arrive or not, so a count that stands still means a worker stuck or gone.</summary>
    public long Rounds => Volatile.Read(ref _rounds);

    /// <param name="pollTimeoutMs">Bounds every wait, so <see cref="Rounds"/> moves with no traffic too.</param>
    public void Run(CancellationToken stop, int pollTimeoutMs = 100)
    {
        while (!stop.IsCancellationRequested)
        {
            Volatile.Write(ref _rounds, _rounds + 1);
            _nowMs = _clockMs();
            if (_ports.Length == 1)
            {
                _ports[0].Poll(this, pollTimeoutMs);
                Housekeep();
                continue;
            }
            var handled = 0;
            foreach (var port in _ports) handled += port.Poll(this, 0);
            // Idle: wait on each port in turn for at most a millisecond, about what a ring block's
            // timeout already costs, so neither side waits long for the other.
            if (handled == 0)
                foreach (var port in _ports) port.Poll(this, 1);
            Housekeep();
        }
    }

    /// <summary>Between polls, busy or idle: what the HA peer sent is merged and the tables are walked for it
    /// (<see cref="Sync.WorkerSync"/>), and swept for expired entries (<see cref="WorkerState.Sweep"/>). An idle worker still gets here every poll timeout.</summary>
    private void Housekeep()
    {
        // _nowMs: taken before the poll and again after each batch; an idle poll leaves it at most a timeout old,
        // which the walk's pacing does not notice.
        if (_processor.Worker.Sync is { } sync) sync.Housekeep(_state.Current, _processor.Worker, _nowMs);
        _processor.Worker.Sweep(_nowMs);
    }

    /// <summary>One poll, for tests and offline replays.</summary>
    public int RunOnce(int timeoutMs = 0)
    {
        _nowMs = _clockMs();
        var handled = 0;
        foreach (var port in _ports) handled += port.Poll(this, timeoutMs);
        Housekeep();
        return handled;
    }

    public Verdict Handle(Span<byte> frame, ref FrameMeta meta)
    {
        var verdict = _processor.Process(frame, ref meta, _snapshot ??= _state.Current, _nowMs);
        if (verdict == Verdict.Transmit)
        {
            _transmitters[meta.EgressInterface].Enqueue(meta.TransmitLength > 0 ? frame[..meta.TransmitLength] : frame, meta);
            _processor.Counters.TxFrames++;
        }
        return verdict;
    }

    public void EndOfBatch()
    {
        _snapshot = null;
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
