using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LoadBalancer.Core.IO;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Xdp;

/// <summary>Sends frames through an AF_XDP socket's TX ring. A frame that lies in the socket's UMEM (one received on
/// any socket sharing it) is sent where it is: its address goes into the TX ring and the frame comes back through the
/// completion ring, never copied. Any other frame (another UMEM, managed memory) is copied into a free frame first.
/// Descriptors are written as frames are queued and published together at <see cref="Flush"/>, which then kicks the
/// kernel: in copy mode the kernel sends in that syscall, a budget of frames per call (the TX ring's size where the
/// kernel lets us raise it, else 32), so the kick is repeated while the ring still holds frames and the kernel asks for
/// more, a bounded number of times.
/// Completions are reaped at every flush (and when the ring or the free list runs dry), so frames return to the
/// free list about one batch after they were sent.</summary>
public sealed unsafe class AfXdpTransmitter : IFrameTransmitter, IDisposable
{
    private readonly XdpSocket _socket;
    private readonly XdpRing _tx;
    private readonly Umem _umem;
    private readonly bool _ownsSocket;
    // Enough kicks to drain a full ring at the socket's budget per call, and a few more.
    private readonly int _maxKicks;
    private uint _queued;
    private int _failedSinceFlush;

    internal AfXdpTransmitter(XdpSocket socket, bool ownsSocket)
    {
        _socket = socket;
        _tx = socket.Tx ?? throw new ArgumentException("the socket has no TX ring", nameof(socket));
        _umem = socket.Umem;
        _ownsSocket = ownsSocket;
        _maxKicks = (int)(_tx.Size / (uint)socket.TxBudget) + 4;
    }

    /// <summary>A transmit-only socket on another interface sharing <paramref name="umem"/> (the egress arm).</summary>
    public static AfXdpTransmitter Open(Umem umem, int ifIndex, int queueId, XdpRingSizes? sizes = null) =>
        new(XdpSocket.Open(umem, ifIndex, queueId, receive: false, transmit: true, sizes), ownsSocket: true);

    public XdpSocket Socket => _socket;

    /// <summary>Frames sent in place, and frames copied into the UMEM first, since open.</summary>
    public long InPlace { get; private set; }
    public long Copied { get; private set; }

    public void Enqueue(Span<byte> frame, in FrameMeta meta)
    {
        if (_tx.Free(_queued + 1) <= _queued)
        {
            // The kernel has not taken what we published before: give it the chance once, then refuse.
            Publish();
            if (_tx.Free(1) == 0)
            {
                _failedSinceFlush++;
                return;
            }
        }
        var p = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(frame));
        if (!_umem.TryLocate(p, frame.Length, out var address) || !_umem.TryMarkSent(address))
        {
            if (frame.Length > _umem.FrameSize - XdpPacketHeadroom
                || (!_umem.TryTake(out address) && (_socket.Reap() == 0 || !_umem.TryTake(out address))))
            {
                _failedSinceFlush++;
                return;
            }
            // A copied frame starts where the kernel starts a received one, so every frame in the UMEM looks alike.
            address += XdpPacketHeadroom;
            frame.CopyTo(_umem.Frame(address, frame.Length));
            Copied++;
        }
        else
        {
            InPlace++;
        }
        ref var d = ref _tx.Descriptor(_tx.ProducerIndex + _queued);
        d.addr = address;
        d.len = (uint)frame.Length;
        d.options = 0;
        _queued++;
    }

    /// <summary>XDP_PACKET_HEADROOM: where the kernel starts a received frame within its chunk in copy mode.</summary>
    internal const int XdpPacketHeadroom = 256;

    public int Flush()
    {
        Publish();
        var failed = _failedSinceFlush;
        _failedSinceFlush = 0;
        return failed;
    }

    private void Publish()
    {
        if (_queued > 0)
        {
            _tx.Submit(_queued);
            _queued = 0;
        }
        for (var i = 0; i < _maxKicks && _tx.Outstanding > 0; i++)
        {
            // Zero-copy drivers may not need the syscall; copy mode always asks for it.
            if (!_tx.NeedsWakeup) break;
            var errno = _socket.KickTransmit();
            if (errno != 0 && errno != LibC.EAGAIN && errno != LibC.EBUSY && errno != LibC.ENOBUFS && errno != LibC.EINTR) break;
        }
        _socket.Reap();
    }

    public void Dispose()
    {
        if (_ownsSocket) _socket.Dispose();
    }
}
