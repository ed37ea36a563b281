using System.Runtime.InteropServices;

namespace LoadBalancer.Linux.Interop;

/// <summary>Constants from linux/if_xdp.h (AF_XDP sockets). The header on the build host may be older than the running
/// kernel; everything here is in the 6.1 header and is checked against it by the layout tests.</summary>
internal static class XdpConstants
{
    public const int AF_XDP = 44;
    public const int SOL_XDP = 283;

    // setsockopt/getsockopt names at SOL_XDP.
    public const int XDP_MMAP_OFFSETS = 1;
    public const int XDP_RX_RING = 2;
    public const int XDP_TX_RING = 3;
    public const int XDP_UMEM_REG = 4;
    public const int XDP_UMEM_FILL_RING = 5;
    public const int XDP_UMEM_COMPLETION_RING = 6;
    public const int XDP_STATISTICS = 7;
    public const int XDP_OPTIONS = 8;
    // Linux 6.17 (not in the 6.1 header the layout tests read): the frames one sendto() may send in copy mode, between
    // 32 (the default) and the TX ring's size; ENOPROTOOPT on an older kernel.
    public const int XDP_MAX_TX_SKB_BUDGET = 9;
    public const int DefaultTxSkbBudget = 32;

    // sockaddr_xdp.sxdp_flags.
    public const ushort XDP_SHARED_UMEM = 1 << 0;
    public const ushort XDP_COPY = 1 << 1;
    public const ushort XDP_ZEROCOPY = 1 << 2;
    public const ushort XDP_USE_NEED_WAKEUP = 1 << 3;

    /// <summary>In a ring's flags word: the kernel waits for a syscall (sendto for TX, poll/recvfrom for the fill ring).</summary>
    public const uint XDP_RING_NEED_WAKEUP = 1 << 0;

    /// <summary>xdp_options.flags: the socket runs in zero-copy mode.</summary>
    public const uint XDP_OPTIONS_ZEROCOPY = 1 << 0;

    // mmap offsets of the four rings (the fill and completion rings belong to the UMEM side of a socket).
    public const long XDP_PGOFF_RX_RING = 0;
    public const long XDP_PGOFF_TX_RING = 0x80000000;
    public const long XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
    public const long XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;

    /// <summary>linux/if_link.h: how BPF_LINK_CREATE attaches an XDP program.</summary>
    public const uint XDP_FLAGS_SKB_MODE = 1 << 1;
    public const uint XDP_FLAGS_DRV_MODE = 1 << 2;

    /// <summary>enum xdp_action.</summary>
    public const int XDP_DROP = 1;
    public const int XDP_PASS = 2;
    public const int XDP_TX = 3;
    public const int XDP_REDIRECT = 4;
}

[StructLayout(LayoutKind.Sequential)]
internal struct sockaddr_xdp
{
    public ushort sxdp_family;
    public ushort sxdp_flags;
    public uint sxdp_ifindex;
    public uint sxdp_queue_id;
    public uint sxdp_shared_umem_fd;
}

/// <summary>Newer kernels add tx_metadata_len where this struct has its tail padding (sizeof stays 32); zero there means none.</summary>
[StructLayout(LayoutKind.Sequential, Size = 32)]
internal struct xdp_umem_reg
{
    public ulong addr;
    public ulong len;
    public uint chunk_size;
    public uint headroom;
    public uint flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_ring_offset
{
    public ulong producer;
    public ulong consumer;
    public ulong desc;
    public ulong flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_mmap_offsets
{
    public xdp_ring_offset rx;
    public xdp_ring_offset tx;
    public xdp_ring_offset fr;
    public xdp_ring_offset cr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_desc
{
    public ulong addr;
    public uint len;
    public uint options;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_statistics
{
    public ulong rx_dropped;
    public ulong rx_invalid_descs;
    public ulong tx_invalid_descs;
    public ulong rx_ring_full;
    public ulong rx_fill_ring_empty_descs;
    public ulong tx_ring_empty_descs;
}

[StructLayout(LayoutKind.Sequential)]
internal struct xdp_options
{
    public uint flags;
}

/// <summary>struct xdp_md: the XDP program's context, as the program reads it (the verifier rewrites these loads).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct xdp_md
{
    public uint data;
    public uint data_end;
    public uint data_meta;
    public uint ingress_ifindex;
    public uint rx_queue_index;
    public uint egress_ifindex;
}
