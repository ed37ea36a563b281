using System.Runtime.CompilerServices;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Xdp;

/// <summary>One of an AF_XDP socket's four single-producer single-consumer rings, mmap'd from the socket. We produce
/// into the fill and TX rings and consume from the RX and completion rings; the kernel does the other side.
/// Indices run freely over uint and wrap; an entry is at index &amp; mask. Local copies of both indices (the
/// "cached" ones) spare a read of the shared line for every entry: the other side's index is read again only when the
/// cached one says the ring is full (producing) or empty (consuming).
/// Memory ordering, as the kernel's side (smp_load_acquire/smp_store_release on the same words) expects: the other
/// side's index is read with acquire, so entries it published before moving it are visible; our own index is written
/// with release, so the entries (and for TX the frame bytes) we wrote are visible to the kernel before it sees the index.</summary>
internal sealed unsafe class XdpRing : IDisposable
{
    private readonly byte* _map;
    private readonly nuint _mapLength;
    private readonly uint* _producer;
    private readonly uint* _consumer;
    private readonly uint* _flags;
    private readonly byte* _entries;
    private readonly uint _mask;
    private uint _cachedProducer;
    private uint _cachedConsumer;

    private XdpRing(byte* map, nuint mapLength, in xdp_ring_offset offsets, uint size)
    {
        _map = map;
        _mapLength = mapLength;
        _producer = (uint*)(map + offsets.producer);
        _consumer = (uint*)(map + offsets.consumer);
        _flags = (uint*)(map + offsets.flags);
        _entries = map + offsets.desc;
        _mask = size - 1;
        Size = size;
        _cachedProducer = Volatile.Read(ref *_producer);
        _cachedConsumer = Volatile.Read(ref *_consumer);
    }

    public uint Size { get; }

    /// <param name="entrySize">16 (xdp_desc) for RX and TX, 8 (a u64 address) for the fill and completion rings.</param>
    public static XdpRing Map(int fd, long pageOffset, in xdp_ring_offset offsets, uint size, int entrySize, string name)
    {
        var length = (nuint)(offsets.desc + (ulong)size * (ulong)entrySize);
        var map = LibC.mmap(null, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, fd, (nint)pageOffset);
        if (map == (void*)-1) throw NativeException.Last($"mmap({name} ring)");
        return new XdpRing((byte*)map, length, offsets, size);
    }

    /// <summary>The kernel asks for a syscall before it looks at this ring again (XDP_USE_NEED_WAKEUP).</summary>
    public bool NeedsWakeup
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Volatile.Read(ref *_flags) & XdpConstants.XDP_RING_NEED_WAKEUP) != 0;
    }

    // --- producing (fill, TX) ---

    /// <summary>How many entries we may write from <see cref="ProducerIndex"/> on, up to <paramref name="wanted"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Free(uint wanted)
    {
        var free = Size - (_cachedProducer - _cachedConsumer);
        if (free >= wanted) return wanted;
        _cachedConsumer = Volatile.Read(ref *_consumer);
        free = Size - (_cachedProducer - _cachedConsumer);
        return free < wanted ? free : wanted;
    }

    public uint ProducerIndex => _cachedProducer;

    /// <summary>Publishes <paramref name="count"/> entries written from <see cref="ProducerIndex"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Submit(uint count)
    {
        _cachedProducer += count;
        Volatile.Write(ref *_producer, _cachedProducer);
    }

    /// <summary>Entries we published that the kernel has not taken yet (TX: frames not yet sent).</summary>
    public uint Outstanding
    {
        get
        {
            _cachedConsumer = Volatile.Read(ref *_consumer);
            return _cachedProducer - _cachedConsumer;
        }
    }

    // --- consuming (RX, completion) ---

    /// <summary>How many entries are ready from <see cref="ConsumerIndex"/> on, up to <paramref name="wanted"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Available(uint wanted)
    {
        var ready = _cachedProducer - _cachedConsumer;
        if (ready == 0)
        {
            _cachedProducer = Volatile.Read(ref *_producer);
            ready = _cachedProducer - _cachedConsumer;
        }
        return ready < wanted ? ready : wanted;
    }

    public uint ConsumerIndex => _cachedConsumer;

    /// <summary>Gives back <paramref name="count"/> entries read from <see cref="ConsumerIndex"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Release(uint count)
    {
        _cachedConsumer += count;
        Volatile.Write(ref *_consumer, _cachedConsumer);
    }

    // --- entries ---

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref ulong Address(uint index) => ref ((ulong*)_entries)[index & _mask];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref xdp_desc Descriptor(uint index) => ref ((xdp_desc*)_entries)[index & _mask];

    public void Dispose() => LibC.munmap(_map, _mapLength);
}
