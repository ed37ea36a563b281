using System.Numerics;
using System.Runtime.CompilerServices;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Xdp;

/// <summary>The frame memory of one or more AF_XDP sockets: <see cref="FrameCount"/> frames of <see cref="FrameSize"/>
/// bytes, page-aligned, registered with the kernel by the first socket opened on it (XDP_UMEM_REG) and shared by the
/// others (XDP_SHARED_UMEM), so a frame received on one interface can leave by another without a copy.
/// Every frame is in exactly one place at a time: our free list, a fill ring or the RX path (the kernel's), a batch
/// being handled (ours), or a TX ring until its completion (the kernel's). Frames are named by their offset in the UMEM
/// ("address"); any address inside a frame stands for that frame (aligned mode).
/// Single-threaded: one worker owns a UMEM and every socket on it; nothing here is synchronised.</summary>
public sealed unsafe class Umem : IDisposable
{
    public const int DefaultFrameSize = 2048;
    public const int DefaultFrameCount = 4096;

    private readonly byte* _base;
    private readonly nuint _length;
    private readonly ulong[] _free;
    private int _freeCount;
    // Set while a received frame sits in a TX ring: its port must not give it back to the free list at the end of the
    // batch, the completion will. One flag per frame instead of a set: no hashing, no allocation.
    private readonly bool[] _sent;
    private readonly int _frameShift;

    private Umem(byte* memory, nuint length, int frameCount, int frameSize)
    {
        _base = memory;
        _length = length;
        FrameCount = frameCount;
        FrameSize = frameSize;
        _frameShift = BitOperations.Log2((uint)frameSize);
        _free = new ulong[frameCount];
        _sent = new bool[frameCount];
        for (var i = 0; i < frameCount; i++) _free[i] = (ulong)(frameCount - 1 - i) << _frameShift;
        _freeCount = frameCount;
    }

    public int FrameCount { get; }
    public int FrameSize { get; }
    public int FreeFrames => _freeCount;

    internal byte* Base => _base;
    internal ulong Length => _length;

    /// <summary>The socket that registered this memory (and whose descriptor the others name to share it); -1 before.</summary>
    internal int OwnerFd { get; set; } = -1;

    /// <summary>Registered by its first socket: later sockets share it and take that socket's mode (copy or zero-copy).</summary>
    public bool IsRegistered => OwnerFd >= 0;

    /// <param name="frameSize">2048 or 4096: a power of two, the kernel's aligned mode.</param>
    public static Umem Create(int frameCount = DefaultFrameCount, int frameSize = DefaultFrameSize)
    {
        if (frameSize is not (2048 or 4096)) throw new ArgumentOutOfRangeException(nameof(frameSize), frameSize, "2048 or 4096");
        if (frameCount <= 0) throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount, "at least one frame");
        var length = (nuint)frameCount * (nuint)frameSize;
        var memory = LibC.mmap(null, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_POPULATE, -1, 0);
        if (memory == (void*)-1) throw NativeException.Last("mmap(UMEM)");
        return new Umem((byte*)memory, length, frameCount, frameSize);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryTake(out ulong address)
    {
        if (_freeCount == 0)
        {
            address = 0;
            return false;
        }
        address = _free[--_freeCount];
        return true;
    }

    /// <summary>Back to the free list; <paramref name="address"/> may point anywhere inside the frame (a completion
    /// gives back the address a TX descriptor had, past the headroom).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Give(ulong address)
    {
        // A frame given twice would be handed out twice; the list cannot hold more than every frame, so a
        // double give shows up here first. Dropping it keeps the data path exception-free.
        if (_freeCount == _free.Length) return;
        _free[_freeCount++] = address >> _frameShift << _frameShift;
    }

    /// <summary>Whether <paramref name="frame"/> lies inside one frame of this UMEM, and at which address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryLocate(byte* frame, int length, out ulong address)
    {
        address = (ulong)(frame - _base);
        // The unsigned compare also rejects pointers below the base; a frame may not cross into the next one.
        return address < _length && (address >> _frameShift) == ((address + (ulong)length - 1) >> _frameShift);
    }

    /// <summary>Marks a received frame as handed to a TX ring; false when it already was (then it must be copied).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryMarkSent(ulong address)
    {
        ref var sent = ref _sent[(int)(address >> _frameShift)];
        if (sent) return false;
        sent = true;
        return true;
    }

    /// <summary>Whether the frame went to a TX ring during this batch; clears the mark.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TakeSent(ulong address)
    {
        ref var sent = ref _sent[(int)(address >> _frameShift)];
        var was = sent;
        sent = false;
        return was;
    }

    internal Span<byte> Frame(ulong address, int length) => new(_base + address, length);

    /// <summary>After every socket on it is closed (the kernel keeps its own reference until then).</summary>
    public void Dispose() => LibC.munmap(_base, _length);
}
