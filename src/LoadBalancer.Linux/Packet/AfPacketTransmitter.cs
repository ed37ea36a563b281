using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LoadBalancer.Core.IO;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>Batched transmit with sendmmsg, zero-copy from the receive ring: each message points at the
/// frame where it lies in the ring, preceded by its virtio_net_hdr (written into the 10 bytes the kernel
/// reserved before the frame when the ring has PACKET_VNET_HDR). A GSO super-frame therefore leaves with
/// its segmentation info and the kernel cuts it to the egress MTU.
/// Invariant: frames passed to <see cref="Enqueue"/> live in unmanaged ring memory (they do not move)
/// with the vnet header slot in front of them, and stay untouched until <see cref="Flush"/>.</summary>
public sealed unsafe class AfPacketTransmitter : IFrameTransmitter, IDisposable
{
    public const int BatchSize = 64;

    private readonly PacketSocket _socket;
    private readonly bool _ownsSocket;
    private readonly bool _vnet;
    private readonly mmsghdr* _messages;
    private readonly iovec* _vectors;
    private int _count;
    private int _failedSinceFlush;

    internal AfPacketTransmitter(PacketSocket socket, bool vnet, bool ownsSocket = false)
    {
        _socket = socket;
        _vnet = vnet;
        _ownsSocket = ownsSocket;
        _messages = (mmsghdr*)NativeMemory.AllocZeroed((nuint)(sizeof(mmsghdr) * BatchSize));
        _vectors = (iovec*)NativeMemory.AllocZeroed((nuint)(sizeof(iovec) * BatchSize));
        for (var i = 0; i < BatchSize; i++)
        {
            _messages[i].msg_hdr.msg_iov = &_vectors[i];
            _messages[i].msg_hdr.msg_iovlen = 1;
        }
    }

    /// <summary>A transmit-only socket on another interface (two-armed setups), or for the lab generator
    /// (<paramref name="vnet"/> false: its frames are plain, with no header slot in front).</summary>
    public static AfPacketTransmitter Open(string interfaceName, bool vnet = true)
    {
        var socket = PacketSocket.Open(interfaceName);
        try
        {
            if (vnet) socket.SetInt(PacketConstants.PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
            socket.SetInt(PacketConstants.PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
            // Bound to protocol 0: it sends on the interface but receives nothing.
            socket.Bind(0);
            return new AfPacketTransmitter(socket, vnet, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Enqueue(Span<byte> frame, in FrameMeta meta)
    {
        if (_count == BatchSize) _failedSinceFlush += Send();
        var p = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(frame));
        ref var v = ref _vectors[_count];
        if (_vnet)
        {
            var h = (virtio_net_hdr*)(p - sizeof(virtio_net_hdr));
            VnetHeaderWriter.Write(h, meta, frame.Length);
            v.iov_base = h;
            v.iov_len = (nuint)(frame.Length + sizeof(virtio_net_hdr));
        }
        else
        {
            v.iov_base = p;
            v.iov_len = (nuint)frame.Length;
        }
        _count++;
    }

    public int Flush()
    {
        var failed = _failedSinceFlush + Send();
        _failedSinceFlush = 0;
        return failed;
    }

    private int Send()
    {
        var sent = 0;
        var failed = 0;
        var fd = _socket.Fd;
        while (sent < _count)
        {
            var r = LibC.sendmmsg(fd, _messages + sent, (uint)(_count - sent), 0);
            if (r > 0)
            {
                sent += r;
                continue;
            }
            if (Marshal.GetLastPInvokeError() == LibC.EINTR) continue;
            // The message at 'sent' was refused (e.g. ENOBUFS from a full device queue, EMSGSIZE):
            // count it and carry on with the rest rather than lose the whole batch.
            failed++;
            sent++;
        }
        _count = 0;
        return failed;
    }

    public void Dispose()
    {
        NativeMemory.Free(_messages);
        NativeMemory.Free(_vectors);
        if (_ownsSocket) _socket.Dispose();
    }
}
