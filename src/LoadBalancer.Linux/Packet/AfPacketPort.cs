using LoadBalancer.Core.IO;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>A TPACKET_V3 receive ring on an ETH_P_ALL socket, exposed as an <see cref="IFramePort"/>.
/// ETH_P_ALL matters: such a socket sees a frame before tc and nftables ingress, so an ingress drop can
/// keep the kernel away from the frames we forward while we still read them (../shared/LAB.md item 1).
/// One retired block is one batch: frames are handed over in place (no copy), transmits queued from
/// them are flushed by the handler's EndOfBatch, and only then is the block returned to the kernel.
/// Link faults: when the interface goes down the kernel sets ENETDOWN on the socket, which makes every poll()
/// return POLLERR at once until it is taken; the port takes it (so an idle worker blocks again instead of
/// spinning), and the kernel puts the socket back in its fanout group at link up, so forwarding resumes by
/// itself. While the link is down the port checks every <see cref="LinkCheckIntervalMs"/> that its interface
/// still exists under the same index: a deleted (or deleted and recreated) interface leaves the socket bound to
/// an index that no longer exists, deaf for good, so the port throws <see cref="InterfaceGoneException"/> and the
/// engine stops (a service manager restarts it on the new interface).</summary>
public sealed unsafe class AfPacketPort : IFramePort
{
    private readonly PacketSocket _socket;
    private readonly byte* _map;
    private readonly nuint _mapLength;
    private readonly int _blockSize;
    private readonly int _blockCount;
    private readonly bool _vnet;
    private readonly int _interfaceIndex;
    private readonly int _fd;
    private int _current;
    private long _kernelDrops;
    private readonly byte[] _nameBytes;
    private bool _linkDown;
    private long _lastLinkCheckMs;

    public const int LinkCheckIntervalMs = 100;

    private AfPacketPort(PacketSocket socket, byte* map, nuint mapLength, RingOptions options, int interfaceIndex)
    {
        _socket = socket;
        _map = map;
        _mapLength = mapLength;
        _blockSize = options.BlockSize;
        _blockCount = options.BlockCount;
        _vnet = options.VnetHeader;
        _interfaceIndex = interfaceIndex;
        _fd = socket.Fd;
        _nameBytes = System.Text.Encoding.UTF8.GetBytes(socket.InterfaceName + "\0");
        Transmitter = new AfPacketTransmitter(socket, options.VnetHeader);
    }

    public string Name => _socket.InterfaceName;

    /// <summary>Sends on the same socket (one-armed, "on a stick") without a second descriptor.</summary>
    public AfPacketTransmitter Transmitter { get; }

    public static AfPacketPort Open(string interfaceName, int interfaceIndex, RingOptions options)
    {
        var socket = PacketSocket.Open(interfaceName);
        try
        {
            // The vnet header must be enabled before the ring exists (the kernel refuses it after).
            if (options.VnetHeader) socket.SetInt(PacketConstants.PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
            socket.SetInt(PacketConstants.PACKET_VERSION, PacketConstants.TPACKET_V3, "PACKET_VERSION");
            var req = new tpacket_req3
            {
                tp_block_size = (uint)options.BlockSize,
                tp_block_nr = (uint)options.BlockCount,
                tp_frame_size = (uint)options.FrameSize,
                tp_frame_nr = (uint)(options.BlockSize / options.FrameSize * options.BlockCount),
                tp_retire_blk_tov = (uint)options.BlockTimeoutMs,
            };
            socket.SetOption(PacketConstants.PACKET_RX_RING, ref req, "PACKET_RX_RING");
            var length = (nuint)options.BlockSize * (nuint)options.BlockCount;
            var map = LibC.mmap(null, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, socket.Fd, 0);
            if (map == (void*)-1) throw NativeException.Last("mmap(PACKET_RX_RING)");
            // Our own transmissions must not come back to us; and skipping the qdisc layer is the
            // transmit half of the batching (no requeue, no qdisc lock per frame).
            socket.TrySetInt(PacketConstants.PACKET_IGNORE_OUTGOING, 1);
            if (options.QdiscBypass) socket.SetInt(PacketConstants.PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
            socket.Bind(PacketConstants.ETH_P_ALL);
            if (options.FanoutGroup is { } group)
            {
                socket.SetInt(PacketConstants.PACKET_FANOUT, (group & 0xFFFF) | (PacketConstants.PACKET_FANOUT_CBPF << 16), "PACKET_FANOUT");
                ClientFanout.Attach(socket, options.FanoutKey == FanoutKey.ClientIsSource);
            }
            return new AfPacketPort(socket, (byte*)map, length, options, interfaceIndex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public int Poll(IFrameHandler handler, int timeoutMs)
    {
        var block = (tpacket_block_desc*)(_map + (long)_current * _blockSize);
        // Acquire: the block's contents are only ours once we have seen TP_STATUS_USER.
        if ((Volatile.Read(ref block->block_status) & PacketConstants.TP_STATUS_USER) == 0)
        {
            var p = new pollfd { fd = _fd, events = LibC.POLLIN | LibC.POLLERR };
            if (LibC.poll(&p, 1, timeoutMs) > 0 && (p.revents & LibC.POLLERR) != 0 && _socket.TakeError() == LibC.ENETDOWN) _linkDown = true;
            if ((Volatile.Read(ref block->block_status) & PacketConstants.TP_STATUS_USER) == 0)
            {
                if (_linkDown) CheckInterfaceStillThere();
                return 0;
            }
        }
        _linkDown = false;

        var count = (int)block->num_pkts;
        var slot = (byte*)block + block->offset_to_first_pkt;
        for (var i = 0; i < count; i++)
        {
            var h = (tpacket3_hdr*)slot;
            var meta = new FrameMeta
            {
                IngressInterface = _interfaceIndex,
                EgressInterface = _interfaceIndex,
                PacketType = (PacketType)slot[PacketConstants.SockaddrLlOffset + 10],
                Truncated = h->tp_snaplen < h->tp_len,
                ChecksumNotReady = (h->tp_status & PacketConstants.TP_STATUS_CSUMNOTREADY) != 0,
                VlanStripped = (h->tp_status & PacketConstants.TP_STATUS_VLAN_VALID) != 0,
            };
            if (_vnet)
            {
                var v = (virtio_net_hdr*)(slot + h->tp_mac - sizeof(virtio_net_hdr));
                meta.Vnet = new VnetHeader
                {
                    Flags = v->flags,
                    GsoType = v->gso_type,
                    HeaderLength = v->hdr_len,
                    GsoSize = v->gso_size,
                    ChecksumStart = v->csum_start,
                    ChecksumOffset = v->csum_offset,
                };
            }
            handler.Handle(new Span<byte>(slot + h->tp_mac, (int)h->tp_snaplen), ref meta);
            slot += h->tp_next_offset;
        }
        handler.EndOfBatch();
        // Release: everything we wrote (and sent) from this block happens before the kernel reuses it.
        Volatile.Write(ref block->block_status, PacketConstants.TP_STATUS_KERNEL);
        _current = _current + 1 == _blockCount ? 0 : _current + 1;
        return count;
    }

    /// <summary>Whether the last poll found the link down (ENETDOWN), until frames flow again.</summary>
    public bool LinkDown => _linkDown;

    private void CheckInterfaceStillThere()
    {
        var now = Environment.TickCount64;
        if (now - _lastLinkCheckMs < LinkCheckIntervalMs) return;
        _lastLinkCheckMs = now;
        int index;
        fixed (byte* name = _nameBytes) index = (int)LibC.if_nametoindex_raw(name);
        if (index != _socket.IfIndex) throw new InterfaceGoneException(_socket.InterfaceName, _socket.IfIndex, index);
    }

    /// <summary>Receive frames sent to a multicast MAC (the CLUSTERIP cluster MAC) even where the NIC filters them.</summary>
    public void JoinMulticast(Core.Packets.MacAddress mac) => _socket.JoinMulticast(mac);

    /// <summary>Frames the kernel dropped because the ring was full, accumulated since open.</summary>
    public long KernelDrops
    {
        get
        {
            _kernelDrops += _socket.ReadStatistics().tp_drops;
            return _kernelDrops;
        }
    }

    public void Dispose()
    {
        Transmitter.Dispose();
        LibC.munmap(_map, _mapLength);
        _socket.Dispose();
    }
}

/// <summary>The interface a port was bound to no longer exists under its index: deleted, or deleted and created
/// again (a new index). The socket cannot follow it; the engine stops so that it is started again on the new one.</summary>
public sealed class InterfaceGoneException(string interfaceName, int oldIndex, int newIndex)
    : IOException(newIndex == 0
        ? $"interface {interfaceName} is gone (deleted); the engine cannot serve it and stops"
        : $"interface {interfaceName} was replaced (index {oldIndex} is now {newIndex}); the engine cannot follow it and stops")
{
    public string InterfaceName { get; } = interfaceName;
}
