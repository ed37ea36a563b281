using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Linux.Xdp;

/// <summary>An AF_XDP socket's RX ring exposed as an <see cref="IFramePort"/>: the frames <see cref="XdpProgram"/>
/// redirected to it (the VIPs'), nothing else; everything else never left the kernel. A batch is the frames in the RX
/// ring when Poll looks, at most <see cref="BatchSize"/>: each is handed to the handler in place in the UMEM, the
/// handler's transmits are flushed by its EndOfBatch, and only then do the batch's frames go back to the free list,
/// except those a transmitter put in a TX ring (they come back through its completion ring). The fill ring is topped
/// up from the free list before and after every batch.
/// AF_XDP gives no sll_pkttype: the port tells it from the destination MAC against the interface's own. It gives no
/// checksum state either (no TP_STATUS_CSUMNOTREADY, no virtio_net_hdr), and a local sender on a veth leaves TCP and
/// UDP checksums partial: <see cref="PartialChecksum.LooksPartial"/> tells those from the header alone (the field
/// holds the pseudo-header's sum), so only they pay a pass over the payload.</summary>
public sealed unsafe class AfXdpPort : IFramePort
{
    public const int BatchSize = 64;

    private readonly XdpSocket _socket;
    private readonly XdpRing _rx;
    private readonly Umem _umem;
    private readonly int _interfaceIndex;
    private readonly ulong _mac;
    private readonly ulong[] _batch = new ulong[BatchSize];
    private Packet.PacketSocket? _membership;

    private AfXdpPort(XdpSocket socket, string name, int interfaceIndex, MacAddress mac)
    {
        _socket = socket;
        _rx = socket.Rx ?? throw new ArgumentException("the socket has no RX ring", nameof(socket));
        _umem = socket.Umem;
        Name = name;
        _interfaceIndex = interfaceIndex;
        _mac = mac.Value;
        Transmitter = socket.Tx is null ? null : new AfXdpTransmitter(socket, ownsSocket: false);
        _socket.Refill();
    }

    /// <summary>Opens a socket on queue <paramref name="queueId"/> of the interface, with an RX ring and a TX ring
    /// (its <see cref="Transmitter"/>, for frames that leave where they came in). Register it with
    /// <see cref="XdpProgram.SetSocket"/> for frames to arrive.</summary>
    /// <param name="interfaceIndex">The interface's index in the engine's plan, stamped on every frame.</param>
    /// <param name="mac">The interface's own MAC, to tell frames for the host from others.</param>
    /// <param name="zeroCopy">Ask the driver for zero-copy (refused with EOPNOTSUPP where it has none, as veth).</param>
    public static AfXdpPort Open(Umem umem, string name, int ifIndex, int queueId, int interfaceIndex, MacAddress mac, XdpRingSizes? sizes = null, bool zeroCopy = false)
    {
        var socket = XdpSocket.Open(umem, ifIndex, queueId, receive: true, transmit: true, sizes, zeroCopy);
        try
        {
            return new AfXdpPort(socket, name, interfaceIndex, mac);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public string Name { get; }

    public XdpSocket Socket => _socket;

    /// <summary>Sends on the same socket (out of the interface the frames came in by), zero-copy within the UMEM.</summary>
    public AfXdpTransmitter? Transmitter { get; }

    public int Poll(IFrameHandler handler, int timeoutMs)
    {
        _socket.Refill();
        var count = _rx.Available(BatchSize);
        if (count == 0)
        {
            // With no wait asked for, the syscall is only worth it when the kernel asked for a wakeup of the fill ring.
            if (timeoutMs != 0 || _socket.Fill.NeedsWakeup) _socket.WaitReceive(timeoutMs);
            count = _rx.Available(BatchSize);
            if (count == 0) return 0;
        }

        var at = _rx.ConsumerIndex;
        for (uint i = 0; i < count; i++)
        {
            ref var d = ref _rx.Descriptor(at + i);
            var address = d.addr;
            _batch[i] = address;
            var frame = _umem.Frame(address, (int)d.len);
            var meta = new FrameMeta
            {
                IngressInterface = _interfaceIndex,
                EgressInterface = _interfaceIndex,
                PacketType = Classify(frame),
                ChecksumNotReady = PartialChecksum.LooksPartial(frame),
            };
            handler.Handle(frame, ref meta);
        }
        // The descriptors are copied out; the frames stay ours until they go back to the fill ring.
        _rx.Release(count);
        handler.EndOfBatch();
        for (var i = 0; i < count; i++)
            if (!_umem.TakeSent(_batch[i])) _umem.Give(_batch[i]);
        _socket.Refill();
        return (int)count;
    }

    private PacketType Classify(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 6) return PacketType.OtherHost;
        var destination = MacAddress.Read(frame).Value;
        if (destination == _mac) return PacketType.Host;
        if (destination == MacAddress.Broadcast.Value) return PacketType.Broadcast;
        return ((destination >> 40) & 1) != 0 ? PacketType.Multicast : PacketType.OtherHost;
    }

    /// <summary>Makes the interface accept frames to a multicast MAC (the CLUSTERIP cluster MAC): an AF_XDP socket has no
    /// membership of its own, so an AF_PACKET socket holds it, bound to no protocol (it never queues a frame), for as
    /// long as this port lives. The XDP program then steers them by their destination address like any other.</summary>
    public void JoinMulticast(MacAddress mac)
    {
        _membership ??= Packet.PacketSocket.Open(Name);
        _membership.JoinMulticast(mac);
    }

    /// <summary>Frames the kernel dropped for this socket since it was opened: RX ring full, or no frame in the fill ring.</summary>
    public long KernelDrops
    {
        get
        {
            var s = _socket.ReadStatistics();
            return (long)(s.rx_dropped + s.rx_ring_full);
        }
    }

    public void Dispose()
    {
        _membership?.Dispose();
        Transmitter?.Dispose();
        _socket.Dispose();
    }
}
