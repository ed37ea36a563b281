using System.Runtime.InteropServices;
using LoadBalancer.Core.IO;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>Batched transmit through a TPACKET_V2 TX ring (PACKET_TX_RING + PACKET_QDISC_BYPASS): frames
/// are copied into ring slots (a 64-byte copy costs far less than the per-message work of sendmmsg:
/// msghdr copy, iovec import, object-size checks) and one send() hands the whole batch to the kernel.
/// Each slot starts with the frame's virtio_net_hdr (PACKET_VNET_HDR) so checksum offload state travels.
/// Frames too large for a slot (GSO super-frames) go out through <paramref name="oversize"/> (sendmmsg on
/// a socket without a TX ring), batched there; the ring is kicked before them and they are sent before
/// the next small frame, so a flow's frames keep their order.
/// Invariant: a slot is ours only while its status is TP_STATUS_AVAILABLE; the kernel owns it from
/// SEND_REQUEST until the frame's skb is freed.</summary>
public sealed unsafe class AfPacketTxRing : IFrameTransmitter, IDisposable
{
    public const int FrameSize = 2048;
    public const int FrameCount = 1024;
    private const int BlockSize = 1 << 16;

    private readonly PacketSocket _socket;
    private readonly AfPacketTransmitter _oversize;
    private readonly byte* _map;
    private readonly nuint _mapLength;
    private int _head;
    private int _queued;
    private int _failedSinceFlush;
    private bool _oversizePending;

    private AfPacketTxRing(PacketSocket socket, byte* map, nuint mapLength, AfPacketTransmitter oversize)
    {
        _socket = socket;
        _map = map;
        _mapLength = mapLength;
        _oversize = oversize;
    }

    /// <summary>Largest frame that fits a slot (with its vnet header).</summary>
    public static int MaxFrame => FrameSize - PacketConstants.TxDataOffset - sizeof(virtio_net_hdr);

    public static AfPacketTxRing Open(string interfaceName, AfPacketTransmitter oversize)
    {
        var socket = PacketSocket.Open(interfaceName);
        try
        {
            socket.SetInt(PacketConstants.PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
            socket.SetInt(PacketConstants.PACKET_VERSION, PacketConstants.TPACKET_V2, "PACKET_VERSION");
            // A malformed frame is dropped (and flagged) instead of stopping the ring.
            socket.SetInt(PacketConstants.PACKET_LOSS, 1, "PACKET_LOSS");
            var req = new tpacket_req
            {
                tp_block_size = BlockSize,
                tp_frame_size = FrameSize,
                tp_block_nr = (uint)(FrameCount * FrameSize / BlockSize),
                tp_frame_nr = FrameCount,
            };
            socket.SetOption(PacketConstants.PACKET_TX_RING, ref req, "PACKET_TX_RING");
            var length = (nuint)(FrameCount * FrameSize);
            var map = LibC.mmap(null, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, socket.Fd, 0);
            if (map == (void*)-1) throw NativeException.Last("mmap(PACKET_TX_RING)");
            socket.SetInt(PacketConstants.PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
            socket.Bind(0);
            return new AfPacketTxRing(socket, (byte*)map, length, oversize);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private tpacket2_hdr* Slot(int i) => (tpacket2_hdr*)(_map + (long)i * FrameSize);

    public void Enqueue(Span<byte> frame, in FrameMeta meta)
    {
        if (frame.Length > MaxFrame)
        {
            // Frames queued in the ring go first; oversize frames then gather in one sendmmsg batch.
            _failedSinceFlush += Kick();
            _oversize.Enqueue(frame, meta);
            _oversizePending = true;
            return;
        }
        if (_oversizePending)
        {
            // A small frame after oversize ones: they leave first, so a flow's frames keep their order.
            _failedSinceFlush += _oversize.Flush();
            _oversizePending = false;
        }
        var slot = Slot(_head);
        if (Volatile.Read(ref slot->tp_status) != PacketConstants.TP_STATUS_AVAILABLE)
        {
            // Ring full of frames the kernel has not released yet: push them out, then look again.
            _failedSinceFlush += Kick();
            if (Volatile.Read(ref slot->tp_status) != PacketConstants.TP_STATUS_AVAILABLE)
            {
                _failedSinceFlush++;
                return;
            }
        }
        var data = (byte*)slot + PacketConstants.TxDataOffset;
        VnetHeaderWriter.Write((virtio_net_hdr*)data, meta, frame.Length);
        frame.CopyTo(new Span<byte>(data + sizeof(virtio_net_hdr), frame.Length));
        slot->tp_len = (uint)(frame.Length + sizeof(virtio_net_hdr));
        // Release: the frame bytes must be visible before the kernel sees SEND_REQUEST.
        Volatile.Write(ref slot->tp_status, PacketConstants.TP_STATUS_SEND_REQUEST);
        _head = _head + 1 == FrameCount ? 0 : _head + 1;
        _queued++;
    }

    public int Flush()
    {
        var failed = _failedSinceFlush + Kick() + _oversize.Flush();
        _failedSinceFlush = 0;
        _oversizePending = false;
        return failed;
    }

    private int Kick()
    {
        if (_queued == 0) return 0;
        var queued = _queued;
        _queued = 0;
        while (LibC.send(_socket.Fd, null, 0, 0) < 0)
        {
            if (Marshal.GetLastPInvokeError() != LibC.EINTR) break;
        }
        // Count and recycle frames the kernel refused (PACKET_LOSS marks them WRONG_FORMAT).
        var failed = 0;
        var i = _head;
        for (var n = 0; n < queued; n++)
        {
            i = i == 0 ? FrameCount - 1 : i - 1;
            var slot = Slot(i);
            if (Volatile.Read(ref slot->tp_status) == PacketConstants.TP_STATUS_WRONG_FORMAT)
            {
                Volatile.Write(ref slot->tp_status, PacketConstants.TP_STATUS_AVAILABLE);
                failed++;
            }
        }
        return failed;
    }

    public void Dispose()
    {
        LibC.munmap(_map, _mapLength);
        _socket.Dispose();
    }
}
