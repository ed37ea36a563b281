namespace LoadBalancer.Core.IO;

public enum Verdict : byte
{
    /// <summary>Not ours: the kernel handles it (or already ignored it).</summary>
    Pass,
    /// <summary>Counted under a drop reason and not forwarded.</summary>
    Drop,
    /// <summary>Rewritten in place; send it out of <see cref="FrameMeta.EgressInterface"/>.</summary>
    Transmit,
}

/// <summary>Receives frames from a port. Frames are only valid during the call (they may live in a
/// kernel ring), and a transmit decided in <see cref="Handle"/> must be flushed by <see cref="EndOfBatch"/>,
/// which the port calls before it recycles the memory of the batch.</summary>
public interface IFrameHandler
{
    Verdict Handle(Span<byte> frame, ref FrameMeta meta);
    void EndOfBatch();
}

/// <summary>A source of frames: an AF_PACKET ring on Linux, or memory in tests and benchmarks.</summary>
public interface IFramePort : IDisposable
{
    string Name { get; }

    /// <summary>Hands every waiting frame (up to one batch) to the handler; waits up to
    /// <paramref name="timeoutMs"/> when none is waiting. Returns the number of frames handled.</summary>
    int Poll(IFrameHandler handler, int timeoutMs);
}

/// <summary>Sends frames out of one interface, in batches.</summary>
public interface IFrameTransmitter
{
    /// <summary>Queues a frame. The frame's memory must stay untouched until <see cref="Flush"/>.</summary>
    void Enqueue(Span<byte> frame, in FrameMeta meta);

    /// <summary>Sends everything queued; returns how many the kernel refused.</summary>
    int Flush();
}

/// <summary>How frames of one interface are spread over the workers reading it (PACKET_FANOUT), so that every
/// frame of a flow meets the worker holding that flow's state: always by the client's address and port
/// (<see cref="Flows.WorkerFanout"/>), read from where the client sits in the frame.</summary>
public enum FanoutKey
{
    /// <summary>The client's address and port as the source: every client-side interface (all modes).</summary>
    ClientIsSource,
    /// <summary>The client's address and port as the destination: the backend side of a NAT service, where
    /// replies carry the client as destination, so a reply meets the worker holding its session.</summary>
    ClientIsDestination,
}
