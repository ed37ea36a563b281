using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LoadBalancer.Core.IO;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>A TAP device the engine writes frames into, so the local IP stack receives them as if they had
/// arrived on a NIC (CLUSTERIP re-injects the flows this node owns; ../shared/LAB.md item 5). Created with
/// IFF_VNET_HDR so a GSO super-frame goes in whole with its segmentation and checksum state, and
/// IFF_NO_PI (no extra header). Not persistent: it disappears when the engine closes it.
/// Invariant, as for <see cref="AfPacketTransmitter"/>: a frame handed to <see cref="Enqueue"/> lives in
/// ring memory with the 10-byte vnet header slot in front of it; it is written at once (one write per frame).</summary>
public sealed unsafe class TapDevice : IFrameTransmitter, IDisposable
{
    private readonly FileDescriptor _handle;
    private int _failed;

    private TapDevice(FileDescriptor handle, string name)
    {
        _handle = handle;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Null when this process may open /dev/net/tun, else why not (checked before the engine touches anything).</summary>
    public static string? CannotOpen() => TunSetIff.CannotOpen();

    public static TapDevice Create(string name)
    {
        var handle = TunSetIff.Open(name, (short)(LibC.IFF_TAP | LibC.IFF_NO_PI | LibC.IFF_VNET_HDR));
        return new TapDevice(handle, name);
    }

    public void Enqueue(Span<byte> frame, in FrameMeta meta)
    {
        var p = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(frame));
        var h = (virtio_net_hdr*)(p - sizeof(virtio_net_hdr));
        VnetHeaderWriter.Write(h, meta, frame.Length);
        var length = (nuint)(frame.Length + sizeof(virtio_net_hdr));
        while (LibC.write(_handle.Fd, h, length) < 0)
        {
            if (Marshal.GetLastPInvokeError() == LibC.EINTR) continue;
            // Workers share one TAP: count with Interlocked.
            Interlocked.Increment(ref _failed);
            break;
        }
    }

    /// <summary>Writes are immediate; this reports the ones refused since the last call.</summary>
    public int Flush()
    {
        // Read first: an Interlocked write per batch on the line every worker shares costs even with nothing to report.
        return Volatile.Read(ref _failed) == 0 ? 0 : Interlocked.Exchange(ref _failed, 0);
    }

    /// <summary>Writes one frame from ordinary memory (tests, control plane): copies it behind a zero vnet header.</summary>
    public bool Write(ReadOnlySpan<byte> frame)
    {
        var buffer = new byte[frame.Length + sizeof(virtio_net_hdr)];
        frame.CopyTo(buffer.AsSpan(sizeof(virtio_net_hdr)));
        fixed (byte* b = buffer)
            return LibC.write(_handle.Fd, b, (nuint)buffer.Length) == buffer.Length;
    }

    public void Dispose() => _handle.Dispose();
}
