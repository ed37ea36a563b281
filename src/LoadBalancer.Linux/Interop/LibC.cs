using System.Runtime.InteropServices;

namespace LoadBalancer.Linux.Interop;

/// <summary>Every native call the project makes, declared once, with the C names kept so they can be
/// checked against the man pages. Blittable arguments only; errno via SetLastError.</summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc.so.6";

    public const int AF_INET = 2;
    public const int AF_PACKET = 17;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_PACKET = 263;
    public const int SOL_SOCKET = 1;
    public const int SO_BINDTODEVICE = 25;
    public const int SO_ERROR = 4;
    public const int SO_ATTACH_FILTER = 26;

    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_SHARED = 1;
    public const int MAP_POPULATE = 0x8000;
    public const int MAP_PRIVATE = 2;
    public const int MAP_ANONYMOUS = 0x20;

    public const short POLLIN = 0x001;
    public const short POLLERR = 0x008;

    public const int MSG_DONTWAIT = 0x40;

    public const int EINTR = 4;
    public const int ENETDOWN = 100;
    public const int ENOENT = 2;
    public const int EACCES = 13;
    public const int EAGAIN = 11;
    public const int EBUSY = 16;
    public const int ENOBUFS = 105;
    public const int ENOPROTOOPT = 92;

    public const ulong SIOCGIFADDR = 0x8915;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    /// <summary>pid 0: the calling thread. The mask is a cpu_set_t (one bit per CPU).</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sched_setaffinity(int pid, nuint cpusetsize, ulong* mask);

    /// <summary>pid 0: the calling thread.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sched_getaffinity(int pid, nuint cpusetsize, ulong* mask);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bind(int fd, void* addr, uint addrlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int optname, void* optval, uint optlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int optname, void* optval, uint* optlen);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int poll(pollfd* fds, nuint nfds, int timeout);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sendmmsg(int fd, mmsghdr* msgvec, uint vlen, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint send(int fd, void* buf, nuint len, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recv(int fd, void* buf, nuint len, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, void* arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, void* buf, nuint count);

    public const int O_RDWR = 2;
    public const int O_CLOEXEC = 0x80000;

    /// <summary>linux/if_tun.h: _IOW('T', 202, int).</summary>
    public const ulong TUNSETIFF = 0x400454ca;
    public const short IFF_TUN = 0x0001;
    public const short IFF_TAP = 0x0002;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_VNET_HDR = 0x4000;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial uint if_nametoindex([MarshalAs(UnmanagedType.LPUTF8Str)] string ifname);

    public const int AT_FDCWD = -100;
    /// <summary>statx of the descriptor itself (pathname ""), as fstat does.</summary>
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_TYPE = 1, STATX_INO = 0x100;
    /// <summary>sizeof(struct statx) and the offsets of stx_mode, stx_ino, stx_dev_major and stx_dev_minor (linux/stat.h):
    /// the same on every architecture.</summary>
    public const int StatxSize = 256, StatxModeOffset = 28, StatxInoOffset = 32, StatxDevMajorOffset = 136, StatxDevMinorOffset = 140;
    public const int S_IFMT = 0xF000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFBLK = 0x6000, S_IFSOCK = 0xC000;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string pathname, int flags, uint mask, byte* statxbuf);

    public const int CLOCK_MONOTONIC = 1;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int clock_gettime(int clockid, timespec* tp);

    /// <summary>The same call on a name already encoded (NUL-terminated): a worker asks it while its link is down,
    /// without allocating.</summary>
    [LibraryImport(Lib, EntryPoint = "if_nametoindex", SetLastError = true)]
    public static partial uint if_nametoindex_raw(byte* ifname);

    /// <summary>linux/capability.h: capget(2) with version 3 fills two <see cref="__user_cap_data_struct"/>, capabilities
    /// 0..31 in the first and 32..63 in the second.</summary>
    public const uint _LINUX_CAPABILITY_VERSION_3 = 0x20080522;
    public const int _LINUX_CAPABILITY_U32S_3 = 2;
    public const int CAP_NET_ADMIN = 12;
    public const int CAP_NET_RAW = 13;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int capget(__user_cap_header_struct* hdrp, __user_cap_data_struct* datap);

    [LibraryImport(Lib)]
    public static partial uint geteuid();

    /// <summary>asm-generic/socket.h: the peer's pid, uid and gid as they were at connect(2) (<see cref="ucred"/>), and its
    /// supplementary groups then (an array of gid_t; ERANGE with the size needed in optlen when the buffer is short).</summary>
    public const int SO_PEERCRED = 17;
    public const int SO_PEERGROUPS = 59;
    public const int ERANGE = 34;
    public const int EPERM = 1;

    /// <summary>uid or gid -1: leave it as it is.</summary>
    public const uint NoId = uint.MaxValue;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int chown([MarshalAs(UnmanagedType.LPUTF8Str)] string pathname, uint owner, uint group);

    /// <summary>syscall(2) with three arguments: bpf(2), which glibc does not wrap. On x86_64 a variadic callee takes
    /// integer arguments in the same registers as a fixed one; the only difference, %al (how many vector registers
    /// carry arguments), merely decides whether its prologue spills them, which is harmless either way.</summary>
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    public static partial nint syscall(nint number, nint arg1, void* arg2, nuint arg3);

    /// <summary>linux/sched.h: setns(2) into a network namespace (for the calling thread only).</summary>
    public const int CLONE_NEWNET = 0x40000000;
    public const int O_RDONLY = 0;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    public static ushort htons(ushort value) => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value);
}

[StructLayout(LayoutKind.Sequential)]
internal struct timespec
{
    public long tv_sec;
    public long tv_nsec;
}

[StructLayout(LayoutKind.Sequential)]
internal struct __user_cap_header_struct
{
    public uint version;
    public int pid;
}

[StructLayout(LayoutKind.Sequential)]
internal struct __user_cap_data_struct
{
    public uint effective;
    public uint permitted;
    public uint inheritable;
}

/// <summary>struct ucred (sys/socket.h, _GNU_SOURCE): what SO_PEERCRED gives.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ucred
{
    public int pid;
    public uint uid;
    public uint gid;
}

[StructLayout(LayoutKind.Sequential)]
internal struct pollfd
{
    public int fd;
    public short events;
    public short revents;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct iovec
{
    public void* iov_base;
    public nuint iov_len;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct msghdr
{
    public void* msg_name;
    public uint msg_namelen;
    public iovec* msg_iov;
    public nuint msg_iovlen;
    public void* msg_control;
    public nuint msg_controllen;
    public int msg_flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct mmsghdr
{
    public msghdr msg_hdr;
    public uint msg_len;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct sockaddr_ll
{
    public ushort sll_family;
    public ushort sll_protocol; // network byte order
    public int sll_ifindex;
    public ushort sll_hatype;
    public byte sll_pkttype;
    public byte sll_halen;
    public fixed byte sll_addr[8];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct packet_mreq
{
    public int mr_ifindex;
    public ushort mr_type;
    public ushort mr_alen;
    public fixed byte mr_address[8];
}

[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_req3
{
    public uint tp_block_size;
    public uint tp_block_nr;
    public uint tp_frame_size;
    public uint tp_frame_nr;
    public uint tp_retire_blk_tov;
    public uint tp_sizeof_priv;
    public uint tp_feature_req_word;
}

[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_req
{
    public uint tp_block_size;
    public uint tp_block_nr;
    public uint tp_frame_size;
    public uint tp_frame_nr;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct tpacket2_hdr
{
    public uint tp_status;
    public uint tp_len;
    public uint tp_snaplen;
    public ushort tp_mac;
    public ushort tp_net;
    public uint tp_sec;
    public uint tp_nsec;
    public ushort tp_vlan_tci;
    public ushort tp_vlan_tpid;
    public fixed byte tp_padding[4];
}

[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_stats_v3
{
    public uint tp_packets;
    public uint tp_drops;
    public uint tp_freeze_q_cnt;
}

/// <summary>struct tpacket_block_desc with its tpacket_hdr_v1 inlined.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_block_desc
{
    public uint version;
    public uint offset_to_priv;
    public uint block_status;
    public uint num_pkts;
    public uint offset_to_first_pkt;
    public uint blk_len;
    public ulong seq_num;
    public uint ts_first_pkt_sec;
    public uint ts_first_pkt_nsec;
    public uint ts_last_pkt_sec;
    public uint ts_last_pkt_nsec;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct tpacket3_hdr
{
    public uint tp_next_offset;
    public uint tp_sec;
    public uint tp_nsec;
    public uint tp_snaplen;
    public uint tp_len;
    public uint tp_status;
    public ushort tp_mac;
    public ushort tp_net;
    // tpacket_hdr_variant1
    public uint tp_rxhash;
    public uint tp_vlan_tci;
    public ushort tp_vlan_tpid;
    public ushort tp_padding;
    public fixed byte tp_padding2[8];
}

[StructLayout(LayoutKind.Sequential)]
internal struct sock_filter
{
    public ushort code;
    public byte jt;
    public byte jf;
    public uint k;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct sock_fprog
{
    public ushort len;
    public sock_filter* filter;
}

/// <summary>struct virtio_net_hdr (legacy, little-endian on the hosts we run on).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct virtio_net_hdr
{
    public byte flags;
    public byte gso_type;
    public ushort hdr_len;
    public ushort gso_size;
    public ushort csum_start;
    public ushort csum_offset;
}

/// <summary>Constants from linux/if_packet.h and linux/if_ether.h.</summary>
internal static class PacketConstants
{
    public const ushort ETH_P_ALL = 0x0003;
    public const ushort ETH_P_ARP = 0x0806;
    public const ushort ETH_P_IPV6 = 0x86DD;

    public const int PACKET_ADD_MEMBERSHIP = 1;
    public const int PACKET_RX_RING = 5;
    public const int PACKET_STATISTICS = 6;
    public const int PACKET_VERSION = 10;
    public const int PACKET_TX_RING = 13;
    public const int PACKET_LOSS = 14;
    public const int PACKET_VNET_HDR = 15;
    public const int PACKET_FANOUT = 18;
    public const int PACKET_QDISC_BYPASS = 20;
    public const int PACKET_FANOUT_DATA = 22;
    public const int PACKET_IGNORE_OUTGOING = 23;

    public const int PACKET_MR_MULTICAST = 0;

    public const int TPACKET_V2 = 1;
    public const int TPACKET_V3 = 2;

    public const int PACKET_FANOUT_CBPF = 6;

    public const uint TP_STATUS_AVAILABLE = 0;
    public const uint TP_STATUS_SEND_REQUEST = 1;
    public const uint TP_STATUS_WRONG_FORMAT = 4;
    public const uint TP_STATUS_KERNEL = 0;
    public const uint TP_STATUS_USER = 1;
    public const uint TP_STATUS_CSUMNOTREADY = 8;
    /// <summary>The NIC took the frame's VLAN tag off into metadata (hv1.tp_vlan_tci): the frame in the ring has none.</summary>
    public const uint TP_STATUS_VLAN_VALID = 0x10;

    /// <summary>TPACKET_ALIGN(sizeof(struct tpacket3_hdr)): where struct sockaddr_ll starts in a slot.</summary>
    public const int SockaddrLlOffset = 48;

    /// <summary>Where a TPACKET_V2 TX frame's data starts: TPACKET2_HDRLEN - sizeof(struct sockaddr_ll),
    /// i.e. TPACKET_ALIGN(sizeof(struct tpacket2_hdr)).</summary>
    public const int TxDataOffset = 32;
}
