using System.Runtime.CompilerServices;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>An AF_PACKET SOCK_RAW socket on one interface. Created unbound (protocol 0) so it sees no
/// frame until its options and ring are in place, then bound to the protocol it wants.</summary>
internal sealed unsafe class PacketSocket : IDisposable
{
    private readonly FileDescriptor _handle;

    private PacketSocket(FileDescriptor handle, string interfaceName, int ifIndex)
    {
        _handle = handle;
        InterfaceName = interfaceName;
        IfIndex = ifIndex;
    }

    public int Fd => _handle.Fd;
    public string InterfaceName { get; }
    public int IfIndex { get; }

    public static PacketSocket Open(string interfaceName)
    {
        var ifIndex = (int)LibC.if_nametoindex(interfaceName);
        if (ifIndex == 0) throw new InvalidOperationException($"interface {interfaceName} does not exist");
        var fd = LibC.socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0) throw NativeException.Last("socket(AF_PACKET)");
        return new PacketSocket(new FileDescriptor(fd), interfaceName, ifIndex);
    }

    /// <summary>An int option at SOL_PACKET level (every option these sockets set is one).</summary>
    public void SetInt(int option, int value, string name)
    {
        if (!TrySetInt(option, value)) throw NativeException.Last($"setsockopt({name})");
    }

    public bool TrySetInt(int option, int value) => LibC.setsockopt(Fd, LibC.SOL_PACKET, option, &value, sizeof(int)) == 0;

    public void SetOption<T>(int option, ref T value, string name) where T : unmanaged
    {
        fixed (T* p = &value)
            if (LibC.setsockopt(Fd, LibC.SOL_PACKET, option, p, (uint)sizeof(T)) != 0) throw NativeException.Last($"setsockopt({name})");
    }

    /// <summary>A classic-BPF socket filter (SO_ATTACH_FILTER): frames it returns 0 for are never queued.</summary>
    public void AttachFilter(sock_filter[] program)
    {
        fixed (sock_filter* p = program)
        {
            var fprog = new sock_fprog { len = (ushort)program.Length, filter = p };
            if (LibC.setsockopt(Fd, LibC.SOL_SOCKET, LibC.SO_ATTACH_FILTER, &fprog, (uint)sizeof(sock_fprog)) != 0)
                throw NativeException.Last($"setsockopt(SO_ATTACH_FILTER, {InterfaceName})");
        }
    }

    public void Bind(ushort protocol)
    {
        var addr = new sockaddr_ll
        {
            sll_family = LibC.AF_PACKET,
            sll_protocol = LibC.htons(protocol),
            sll_ifindex = IfIndex,
        };
        if (LibC.bind(Fd, &addr, (uint)sizeof(sockaddr_ll)) != 0) throw NativeException.Last($"bind({InterfaceName})");
    }

    /// <summary>Receive frames sent to a multicast MAC (the CLUSTERIP cluster MAC) on this interface.</summary>
    public void JoinMulticast(Core.Packets.MacAddress mac)
    {
        var mreq = new packet_mreq { mr_ifindex = IfIndex, mr_type = PacketConstants.PACKET_MR_MULTICAST, mr_alen = 6 };
        mac.Write(new Span<byte>(mreq.mr_address, 6));
        SetOption(PacketConstants.PACKET_ADD_MEMBERSHIP, ref mreq, "PACKET_ADD_MEMBERSHIP");
    }

    /// <summary>Takes the socket's pending error (SO_ERROR), which clears it: ENETDOWN after the interface went
    /// down. Until it is taken, poll() reports POLLERR at once, every time.</summary>
    public int TakeError()
    {
        int error = 0;
        uint len = sizeof(int);
        return LibC.getsockopt(Fd, LibC.SOL_SOCKET, LibC.SO_ERROR, &error, &len) == 0 ? error : 0;
    }

    public tpacket_stats_v3 ReadStatistics()
    {
        // Reading PACKET_STATISTICS also resets the kernel's counters; callers accumulate.
        tpacket_stats_v3 stats = default;
        uint len = (uint)sizeof(tpacket_stats_v3);
        if (LibC.getsockopt(Fd, LibC.SOL_PACKET, PacketConstants.PACKET_STATISTICS, &stats, &len) != 0) return default;
        return stats;
    }

    /// <summary>Sends one frame (control plane: ARP). Returns false when the kernel refused it.</summary>
    public bool Send(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            while (true)
            {
                var r = LibC.send(Fd, p, (nuint)frame.Length, 0);
                if (r >= 0) return true;
                if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != LibC.EINTR) return false;
            }
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for one frame; returns its length, or 0.</summary>
    public int Receive(Span<byte> buffer, int timeoutMs)
    {
        var p = new pollfd { fd = Fd, events = LibC.POLLIN };
        if (LibC.poll(&p, 1, timeoutMs) <= 0) return 0;
        fixed (byte* b = buffer)
        {
            var r = LibC.recv(Fd, b, (nuint)buffer.Length, LibC.MSG_DONTWAIT);
            return r > 0 ? (int)r : 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Dispose() => _handle.Dispose();
}
