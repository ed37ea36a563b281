using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Xdp;

/// <summary>Ring sizes of one AF_XDP socket: powers of two. The fill ring should hold what the RX ring can (every
/// frame the kernel may fill needs a slot), the completion ring what the TX ring can.</summary>
public readonly record struct XdpRingSizes(uint Rx, uint Tx, uint Fill, uint Completion)
{
    public static readonly XdpRingSizes Default = new(2048, 2048, 2048, 2048);
}

/// <summary>An AF_XDP socket bound to one queue of one interface, with its fill and completion rings and an RX ring,
/// a TX ring or both. The first socket opened on a <see cref="Umem"/> registers it; later ones share it
/// (XDP_SHARED_UMEM, each with fill and completion rings of its own, as the kernel requires for another interface or
/// queue) and inherit its bind mode. Copy mode is the default: veth and most drivers without AF_XDP support refuse
/// zero-copy (EOPNOTSUPP). XDP_USE_NEED_WAKEUP is always asked for: the kernel then tells, through a ring's flags,
/// when it needs a syscall, and we make none otherwise.
/// Invariant: the rings are mapped before bind (a shared socket's fill and completion rings can only be mapped
/// then), and the socket is closed only after its rings are unmapped.</summary>
public sealed unsafe class XdpSocket : IDisposable
{
    private readonly FileDescriptor _handle;

    private XdpSocket(FileDescriptor handle, Umem umem, int ifIndex, int queueId, XdpRing fill, XdpRing completion, XdpRing? rx, XdpRing? tx)
    {
        _handle = handle;
        Umem = umem;
        IfIndex = ifIndex;
        QueueId = queueId;
        Fill = fill;
        Completion = completion;
        Rx = rx;
        Tx = tx;
        Fd = handle.Fd;
    }

    public int Fd { get; }
    public Umem Umem { get; }
    public int IfIndex { get; }
    public int QueueId { get; }

    /// <summary>The frames one kick sends in copy mode: the TX ring's size where the kernel takes XDP_MAX_TX_SKB_BUDGET
    /// (6.17+), else its default of 32; 0 without a TX ring.</summary>
    public int TxBudget { get; private set; }

    /// <summary>What the kernel says after bind (XDP_OPTIONS): frames in place in the NIC's DMA, or copied.</summary>
    public bool ZeroCopy { get; private set; }

    internal XdpRing Fill { get; }
    internal XdpRing Completion { get; }
    internal XdpRing? Rx { get; }
    internal XdpRing? Tx { get; }

    /// <param name="receive">With an RX ring (a receive port); without, the socket only transmits.</param>
    /// <param name="transmit">With a TX ring.</param>
    /// <param name="zeroCopy">Ask for zero-copy (XDP_ZEROCOPY) instead of copy mode; ignored when the UMEM is shared
    /// (the first socket's mode holds for all).</param>
    /// <exception cref="NativeException">A setsockopt, mmap or the bind failed (EBUSY: the queue has a socket already;
    /// EOPNOTSUPP: zero-copy not supported).</exception>
    public static XdpSocket Open(Umem umem, int ifIndex, int queueId, bool receive, bool transmit, XdpRingSizes? ringSizes = null, bool zeroCopy = false)
    {
        if (!receive && !transmit) throw new ArgumentException("a socket needs an RX ring, a TX ring or both");
        var sizes = ringSizes ?? XdpRingSizes.Default;
        var fd = LibC.socket(XdpConstants.AF_XDP, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0) throw NativeException.Last("socket(AF_XDP)");
        var handle = new FileDescriptor(fd);
        XdpRing? fill = null, completion = null, rx = null, tx = null;
        try
        {
            var owner = umem.OwnerFd < 0;
            if (owner)
            {
                var reg = new xdp_umem_reg { addr = (ulong)umem.Base, len = umem.Length, chunk_size = (uint)umem.FrameSize };
                SetOption(fd, XdpConstants.XDP_UMEM_REG, ref reg, "XDP_UMEM_REG");
            }
            SetRingSize(fd, XdpConstants.XDP_UMEM_FILL_RING, sizes.Fill, "XDP_UMEM_FILL_RING");
            SetRingSize(fd, XdpConstants.XDP_UMEM_COMPLETION_RING, sizes.Completion, "XDP_UMEM_COMPLETION_RING");
            if (receive) SetRingSize(fd, XdpConstants.XDP_RX_RING, sizes.Rx, "XDP_RX_RING");
            if (transmit) SetRingSize(fd, XdpConstants.XDP_TX_RING, sizes.Tx, "XDP_TX_RING");

            xdp_mmap_offsets offsets;
            var len = (uint)sizeof(xdp_mmap_offsets);
            if (LibC.getsockopt(fd, XdpConstants.SOL_XDP, XdpConstants.XDP_MMAP_OFFSETS, &offsets, &len) != 0)
                throw NativeException.Last("getsockopt(XDP_MMAP_OFFSETS)");
            fill = XdpRing.Map(fd, XdpConstants.XDP_UMEM_PGOFF_FILL_RING, offsets.fr, sizes.Fill, sizeof(ulong), "fill");
            completion = XdpRing.Map(fd, XdpConstants.XDP_UMEM_PGOFF_COMPLETION_RING, offsets.cr, sizes.Completion, sizeof(ulong), "completion");
            if (receive) rx = XdpRing.Map(fd, XdpConstants.XDP_PGOFF_RX_RING, offsets.rx, sizes.Rx, sizeof(xdp_desc), "RX");
            if (transmit) tx = XdpRing.Map(fd, XdpConstants.XDP_PGOFF_TX_RING, offsets.tx, sizes.Tx, sizeof(xdp_desc), "TX");

            var address = new sockaddr_xdp
            {
                sxdp_family = XdpConstants.AF_XDP,
                sxdp_ifindex = (uint)ifIndex,
                sxdp_queue_id = (uint)queueId,
                // A sharing socket may name no mode flags (EINVAL): it takes the owner's.
                sxdp_flags = owner
                    ? (ushort)(XdpConstants.XDP_USE_NEED_WAKEUP | (zeroCopy ? XdpConstants.XDP_ZEROCOPY : XdpConstants.XDP_COPY))
                    : XdpConstants.XDP_SHARED_UMEM,
                sxdp_shared_umem_fd = owner ? 0 : (uint)umem.OwnerFd,
            };
            if (LibC.bind(fd, &address, (uint)sizeof(sockaddr_xdp)) != 0) throw NativeException.Last($"bind(AF_XDP ifindex {ifIndex} queue {queueId})");
            if (owner) umem.OwnerFd = fd;

            var socket = new XdpSocket(handle, umem, ifIndex, queueId, fill, completion, rx, tx);
            if (transmit) socket.TxBudget = RaiseTxBudget(fd, sizes.Tx);
            xdp_options options;
            len = (uint)sizeof(xdp_options);
            if (LibC.getsockopt(fd, XdpConstants.SOL_XDP, XdpConstants.XDP_OPTIONS, &options, &len) == 0)
                socket.ZeroCopy = (options.flags & XdpConstants.XDP_OPTIONS_ZEROCOPY) != 0;
            return socket;
        }
        catch
        {
            tx?.Dispose();
            rx?.Dispose();
            completion?.Dispose();
            fill?.Dispose();
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Lets one sendto() send a whole TX ring in copy mode instead of 32 frames: a full ring then costs one
    /// syscall, not 64, and the frames leave before the next batch arrives.</summary>
    private static int RaiseTxBudget(int fd, uint ringSize)
    {
        var budget = ringSize;
        if (LibC.setsockopt(fd, XdpConstants.SOL_XDP, XdpConstants.XDP_MAX_TX_SKB_BUDGET, &budget, sizeof(uint)) == 0) return (int)budget;
        var errno = Marshal.GetLastPInvokeError();
        if (errno == LibC.ENOPROTOOPT) return XdpConstants.DefaultTxSkbBudget;
        throw new NativeException($"setsockopt(XDP_MAX_TX_SKB_BUDGET, {budget})", errno);
    }

    private static void SetRingSize(int fd, int option, uint size, string name)
    {
        if (size == 0 || (size & (size - 1)) != 0) throw new ArgumentOutOfRangeException(name, size, "a ring size must be a power of two");
        SetOption(fd, option, ref size, name);
    }

    private static void SetOption<T>(int fd, int option, ref T value, string name) where T : unmanaged
    {
        fixed (T* p = &value)
            if (LibC.setsockopt(fd, XdpConstants.SOL_XDP, option, p, (uint)sizeof(T)) != 0) throw NativeException.Last($"setsockopt({name})");
    }

    /// <summary>Moves free frames of the UMEM into the fill ring, as many as fit. Returns how many.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Refill()
    {
        var want = Fill.Free((uint)Umem.FreeFrames);
        if (want == 0) return 0;
        var at = Fill.ProducerIndex;
        for (uint i = 0; i < want; i++)
        {
            Umem.TryTake(out var address);
            Fill.Address(at + i) = address;
        }
        Fill.Submit(want);
        return want;
    }

    /// <summary>Gives the frames the kernel has sent (the completion ring) back to the UMEM's free list.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Reap()
    {
        var done = Completion.Available(Completion.Size);
        if (done == 0) return 0;
        var at = Completion.ConsumerIndex;
        for (uint i = 0; i < done; i++) Umem.Give(Completion.Address(at + i));
        Completion.Release(done);
        return done;
    }

    /// <summary>Tells the kernel there is work in the TX ring (copy mode sends in this call, a budget of frames at a
    /// time). Returns 0, or the errno: EAGAIN, EBUSY and ENOBUFS mean "not all of it yet".</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int KickTransmit()
    {
        if (LibC.send(Fd, null, 0, LibC.MSG_DONTWAIT) >= 0) return 0;
        return Marshal.GetLastPInvokeError();
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for frames in the RX ring; poll() is also what wakes the
    /// kernel for the fill ring when it asked for it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WaitReceive(int timeoutMs)
    {
        var p = new pollfd { fd = Fd, events = LibC.POLLIN };
        LibC.poll(&p, 1, timeoutMs);
    }

    /// <summary>The kernel's counters for this socket (they only grow; not reset by reading).</summary>
    internal xdp_statistics ReadStatistics()
    {
        xdp_statistics stats = default;
        var len = (uint)sizeof(xdp_statistics);
        if (LibC.getsockopt(Fd, XdpConstants.SOL_XDP, XdpConstants.XDP_STATISTICS, &stats, &len) != 0) return default;
        return stats;
    }

    public void Dispose()
    {
        Tx?.Dispose();
        Rx?.Dispose();
        Completion.Dispose();
        Fill.Dispose();
        _handle.Dispose();
    }
}
