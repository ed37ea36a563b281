using System.Diagnostics;
using System.Runtime.InteropServices;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Tests.Interop;

/// <summary>Our interop structs against the kernel's own headers: a C program compiled here prints
/// sizeof/offsetof for each, and every field must agree. gcc and linux-libc-dev come with test.sh.</summary>
public sealed class StructLayoutTests
{
    private static readonly Lazy<Dictionary<string, long>> Native64 = new(CompileAndRun);
    private static readonly Lazy<Dictionary<string, int>> Native = new(() =>
        Native64.Value.Where(kv => kv.Value is >= int.MinValue and <= int.MaxValue).ToDictionary(kv => kv.Key, kv => (int)kv.Value));

    private const string Program = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <poll.h>
        #include <sys/socket.h>
        #include <sys/uio.h>
        #include <linux/if_packet.h>
        #include <linux/virtio_net.h>
        #include <linux/filter.h>
        #include <linux/stat.h>
        #include <sys/stat.h>
        #include <linux/fcntl.h>
        #include <time.h>
        #include <errno.h>
        #include <linux/capability.h>
        #include <linux/if_ether.h>
        #include <linux/if_xdp.h>
        #include <linux/bpf.h>
        #include <linux/if_link.h>
        #include <sys/syscall.h>
        #include <sched.h>
        #include <sys/mman.h>
        #define S(t) printf("sizeof %s %zu\n", #t, sizeof(struct t));
        #define O(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(struct t, f));
        #define U(f) printf("offsetof bpf_attr.%s %zu\n", #f, offsetof(union bpf_attr, f));
        #define C(x) printf("const %s %lld\n", #x, (long long)(x));
        int main(void) {
          printf("sizeof sock_filter %zu\nsizeof sock_fprog %zu\n", sizeof(struct sock_filter), sizeof(struct sock_fprog));
          printf("offsetof sock_fprog.filter %zu\n", offsetof(struct sock_fprog, filter));
          printf("const PACKET_FANOUT_DATA %d\nconst PACKET_FANOUT_CBPF %d\n", PACKET_FANOUT_DATA, PACKET_FANOUT_CBPF);
          printf("const BPF_LDX_B_MSH %d\nconst BPF_LD_H_IND %d\nconst BPF_LD_W_ABS %d\nconst BPF_LDX_W_MEM %d\nconst BPF_XOR_X %d\nconst BPF_RET_A %d\nconst BPF_TAX %d\n",
                 BPF_LDX|BPF_B|BPF_MSH, BPF_LD|BPF_H|BPF_IND, BPF_LD|BPF_W|BPF_ABS, BPF_LDX|BPF_W|BPF_MEM, BPF_ALU|BPF_XOR|BPF_X, BPF_RET|BPF_A, BPF_MISC|BPF_TAX);
          printf("const BPF_LD_B_ABS %d\nconst BPF_LD_B_IND %d\nconst BPF_LD_W_IND %d\nconst BPF_ADD_X %d\nconst BPF_AND_K %d\nconst BPF_LSH_K %d\nconst BPF_JEQ_K %d\nconst BPF_MUL_K %d\nconst BPF_RSH_K %d\nconst BPF_ST %d\n",
                 BPF_LD|BPF_B|BPF_ABS, BPF_LD|BPF_B|BPF_IND, BPF_LD|BPF_W|BPF_IND, BPF_ALU|BPF_ADD|BPF_X, BPF_ALU|BPF_AND|BPF_K, BPF_ALU|BPF_LSH|BPF_K,
                 BPF_JMP|BPF_JEQ|BPF_K, BPF_ALU|BPF_MUL|BPF_K, BPF_ALU|BPF_RSH|BPF_K, BPF_ST);
          S(statx) O(statx, stx_mode) O(statx, stx_ino) O(statx, stx_dev_major) O(statx, stx_dev_minor)
          printf("const STATX_TYPE %d\nconst S_IFREG %d\nconst S_IFIFO %d\n", STATX_TYPE, S_IFREG, S_IFIFO);
          printf("const STATX_INO %d\nconst AT_EMPTY_PATH %d\nconst CLOCK_MONOTONIC %d\nsizeof timespec %zu\n", STATX_INO, AT_EMPTY_PATH, CLOCK_MONOTONIC, sizeof(struct timespec));
          S(tpacket_req) S(tpacket2_hdr) O(tpacket2_hdr, tp_len) O(tpacket2_hdr, tp_mac) O(tpacket2_hdr, tp_vlan_tci)
          printf("tpacket2_data_offset %d\n", (int)(TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)));
          printf("const PACKET_TX_RING %d\nconst PACKET_LOSS %d\nconst TPACKET_V2 %d\nconst TP_STATUS_SEND_REQUEST %d\nconst TP_STATUS_WRONG_FORMAT %d\n",
                 PACKET_TX_RING, PACKET_LOSS, TPACKET_V2, TP_STATUS_SEND_REQUEST, TP_STATUS_WRONG_FORMAT);
          S(tpacket_req3) O(tpacket_req3, tp_retire_blk_tov) O(tpacket_req3, tp_feature_req_word)
          S(tpacket_block_desc) O(tpacket_block_desc, hdr.bh1.block_status) O(tpacket_block_desc, hdr.bh1.num_pkts)
          O(tpacket_block_desc, hdr.bh1.offset_to_first_pkt) O(tpacket_block_desc, hdr.bh1.seq_num)
          S(tpacket3_hdr) O(tpacket3_hdr, tp_snaplen) O(tpacket3_hdr, tp_len) O(tpacket3_hdr, tp_status)
          O(tpacket3_hdr, tp_mac) O(tpacket3_hdr, tp_net) O(tpacket3_hdr, hv1.tp_vlan_tci)
          printf("tpacket_align_hdr3 %d\n", (int)TPACKET_ALIGN(sizeof(struct tpacket3_hdr)));
          S(sockaddr_ll) O(sockaddr_ll, sll_ifindex) O(sockaddr_ll, sll_pkttype) O(sockaddr_ll, sll_addr)
          S(packet_mreq) O(packet_mreq, mr_address)
          S(tpacket_stats_v3) O(tpacket_stats_v3, tp_drops)
          S(msghdr) O(msghdr, msg_iov) O(msghdr, msg_iovlen) O(msghdr, msg_flags)
          S(mmsghdr) O(mmsghdr, msg_len)
          S(iovec) S(pollfd) O(pollfd, revents)
          S(virtio_net_hdr) O(virtio_net_hdr, gso_size) O(virtio_net_hdr, csum_offset)
          printf("const PACKET_RX_RING %d\nconst PACKET_VERSION %d\nconst PACKET_VNET_HDR %d\nconst PACKET_FANOUT %d\n",
                 PACKET_RX_RING, PACKET_VERSION, PACKET_VNET_HDR, PACKET_FANOUT);
          printf("const PACKET_QDISC_BYPASS %d\nconst PACKET_IGNORE_OUTGOING %d\nconst TPACKET_V3 %d\nconst TP_STATUS_CSUMNOTREADY %d\n",
                 PACKET_QDISC_BYPASS, PACKET_IGNORE_OUTGOING, TPACKET_V3, TP_STATUS_CSUMNOTREADY);
          printf("const PACKET_ADD_MEMBERSHIP %d\nconst PACKET_STATISTICS %d\nconst SOL_PACKET %d\n",
                 PACKET_ADD_MEMBERSHIP, PACKET_STATISTICS, SOL_PACKET);
          S(__user_cap_header_struct) O(__user_cap_header_struct, pid)
          S(__user_cap_data_struct) O(__user_cap_data_struct, permitted) O(__user_cap_data_struct, inheritable)
          S(ucred) O(ucred, uid) O(ucred, gid)
          printf("const _LINUX_CAPABILITY_VERSION_3 %d\nconst _LINUX_CAPABILITY_U32S_3 %d\nconst CAP_NET_ADMIN %d\nconst CAP_NET_RAW %d\n",
                 _LINUX_CAPABILITY_VERSION_3, _LINUX_CAPABILITY_U32S_3, CAP_NET_ADMIN, CAP_NET_RAW);
          printf("const SO_ATTACH_FILTER %d\nconst ETH_P_IPV6 %d\nconst BPF_LD_H_ABS %d\nconst BPF_RET_K %d\n",
                 SO_ATTACH_FILTER, ETH_P_IPV6, BPF_LD|BPF_H|BPF_ABS, BPF_RET|BPF_K);
          printf("const SO_PEERCRED %d\nconst SO_PEERGROUPS %d\nconst ERANGE %d\nconst EPERM %d\n", SO_PEERCRED, SO_PEERGROUPS, ERANGE, EPERM);
          S(sockaddr_xdp) O(sockaddr_xdp, sxdp_flags) O(sockaddr_xdp, sxdp_ifindex) O(sockaddr_xdp, sxdp_queue_id) O(sockaddr_xdp, sxdp_shared_umem_fd)
          S(xdp_umem_reg) O(xdp_umem_reg, len) O(xdp_umem_reg, chunk_size) O(xdp_umem_reg, headroom) O(xdp_umem_reg, flags)
          S(xdp_ring_offset) O(xdp_ring_offset, consumer) O(xdp_ring_offset, desc) O(xdp_ring_offset, flags)
          S(xdp_mmap_offsets) O(xdp_mmap_offsets, tx) O(xdp_mmap_offsets, fr) O(xdp_mmap_offsets, cr)
          S(xdp_desc) O(xdp_desc, len) O(xdp_desc, options)
          S(xdp_statistics) O(xdp_statistics, rx_invalid_descs) O(xdp_statistics, tx_invalid_descs) O(xdp_statistics, rx_ring_full)
          O(xdp_statistics, rx_fill_ring_empty_descs) O(xdp_statistics, tx_ring_empty_descs)
          S(xdp_options) S(xdp_md) O(xdp_md, data_end) O(xdp_md, data_meta) O(xdp_md, ingress_ifindex) O(xdp_md, rx_queue_index) O(xdp_md, egress_ifindex)
          S(bpf_insn) O(bpf_insn, off) O(bpf_insn, imm)
          U(map_type) U(key_size) U(value_size) U(max_entries) U(map_flags) U(inner_map_fd) U(numa_node) U(map_name)
          U(map_fd) U(key) U(value) U(flags)
          U(prog_type) U(insn_cnt) U(insns) U(license) U(log_level) U(log_size) U(log_buf) U(kern_version) U(prog_flags) U(prog_name)
          U(prog_ifindex) U(expected_attach_type)
          U(link_create.prog_fd) U(link_create.target_ifindex) U(link_create.attach_type) U(link_create.flags)
          U(test.prog_fd) U(test.retval) U(test.data_size_in) U(test.data_size_out) U(test.data_in) U(test.data_out) U(test.repeat)
          U(test.duration) U(test.ctx_size_in) U(test.ctx_size_out) U(test.ctx_in) U(test.ctx_out)
          C(AF_XDP) C(SOL_XDP) C(XDP_MMAP_OFFSETS) C(XDP_RX_RING) C(XDP_TX_RING) C(XDP_UMEM_REG) C(XDP_UMEM_FILL_RING) C(XDP_UMEM_COMPLETION_RING)
          C(XDP_STATISTICS) C(XDP_OPTIONS) C(XDP_SHARED_UMEM) C(XDP_COPY) C(XDP_ZEROCOPY) C(XDP_USE_NEED_WAKEUP) C(XDP_RING_NEED_WAKEUP)
          C(XDP_OPTIONS_ZEROCOPY) C(XDP_PGOFF_RX_RING) C(XDP_PGOFF_TX_RING) C(XDP_UMEM_PGOFF_FILL_RING) C(XDP_UMEM_PGOFF_COMPLETION_RING)
          C(XDP_FLAGS_SKB_MODE) C(XDP_FLAGS_DRV_MODE) C(XDP_DROP) C(XDP_PASS) C(XDP_TX) C(XDP_REDIRECT)
          C(SYS_bpf) C(BPF_MAP_CREATE) C(BPF_MAP_UPDATE_ELEM) C(BPF_MAP_DELETE_ELEM) C(BPF_PROG_LOAD) C(BPF_PROG_TEST_RUN) C(BPF_LINK_CREATE)
          C(BPF_MAP_TYPE_HASH) C(BPF_MAP_TYPE_ARRAY) C(BPF_MAP_TYPE_XSKMAP) C(BPF_PROG_TYPE_XDP) C(BPF_XDP) C(BPF_ANY) C(BPF_PSEUDO_MAP_FD)
          C(BPF_FUNC_map_lookup_elem) C(BPF_FUNC_redirect_map) C(BPF_OBJ_NAME_LEN)
          C(BPF_LD) C(BPF_LDX) C(BPF_ST) C(BPF_STX) C(BPF_ALU) C(BPF_JMP) C(BPF_ALU64) C(BPF_W) C(BPF_H) C(BPF_B) C(BPF_DW) C(BPF_IMM) C(BPF_MEM)
          C(BPF_ADD) C(BPF_AND) C(BPF_LSH) C(BPF_MOV) C(BPF_JA) C(BPF_JEQ) C(BPF_JGT) C(BPF_JSET) C(BPF_JNE) C(BPF_JLT) C(BPF_CALL) C(BPF_EXIT) C(BPF_K) C(BPF_X)
          C(AF_INET) C(MAP_PRIVATE) C(MAP_ANONYMOUS) C(CLONE_NEWNET) C(O_RDONLY) C(ENOENT) C(EACCES) C(EAGAIN) C(EBUSY) C(ENOBUFS)
          return 0;
        }
        """;

    private static Dictionary<string, long> CompileAndRun()
    {
        var dir = Directory.CreateTempSubdirectory("lb-layout-");
        try
        {
            var source = Path.Combine(dir.FullName, "layout.c");
            var binary = Path.Combine(dir.FullName, "layout");
            File.WriteAllText(source, Program);
            Run("cc", $"-o {binary} {source}");
            var values = new Dictionary<string, long>();
            foreach (var line in Run(binary, "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                values[parts[^2]] = long.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture);
            }
            return values;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {args} failed: {stderr}");
        return stdout;
    }

    private static int SizeOf<T>() where T : unmanaged => Marshal.SizeOf<T>();
    private static int OffsetOf<T>(string field) => (int)Marshal.OffsetOf<T>(field);

    [Fact]
    public void Sizes_MatchKernelHeaders()
    {
        var n = Native.Value;
        Assert.Equal(n["tpacket_req3"], SizeOf<tpacket_req3>());
        Assert.Equal(n["tpacket_block_desc"], SizeOf<tpacket_block_desc>());
        Assert.Equal(n["tpacket3_hdr"], SizeOf<tpacket3_hdr>());
        Assert.Equal(n["sockaddr_ll"], SizeOf<sockaddr_ll>());
        Assert.Equal(n["packet_mreq"], SizeOf<packet_mreq>());
        Assert.Equal(n["tpacket_stats_v3"], SizeOf<tpacket_stats_v3>());
        Assert.Equal(n["msghdr"], SizeOf<msghdr>());
        Assert.Equal(n["mmsghdr"], SizeOf<mmsghdr>());
        Assert.Equal(n["iovec"], SizeOf<iovec>());
        Assert.Equal(n["pollfd"], SizeOf<pollfd>());
        Assert.Equal(n["virtio_net_hdr"], SizeOf<virtio_net_hdr>());
        Assert.Equal(PacketConstants.SockaddrLlOffset, n["tpacket_align_hdr3"]);
        Assert.Equal(n["tpacket_req"], SizeOf<tpacket_req>());
        Assert.Equal(n["sock_filter"], SizeOf<sock_filter>());
        Assert.Equal(n["sock_fprog"], SizeOf<sock_fprog>());
        Assert.Equal(n["sock_fprog.filter"], OffsetOf<sock_fprog>(nameof(sock_fprog.filter)));
        Assert.Equal(LibC.StatxSize, n["statx"]);
        Assert.Equal(LibC.StatxModeOffset, n["statx.stx_mode"]);
        Assert.Equal(LibC.StatxInoOffset, n["statx.stx_ino"]);
        Assert.Equal(LibC.StatxDevMajorOffset, n["statx.stx_dev_major"]);
        Assert.Equal(LibC.StatxDevMinorOffset, n["statx.stx_dev_minor"]);
        Assert.Equal((int)LibC.STATX_INO, n["STATX_INO"]);
        Assert.Equal(LibC.AT_EMPTY_PATH, n["AT_EMPTY_PATH"]);
        Assert.Equal(LibC.CLOCK_MONOTONIC, n["CLOCK_MONOTONIC"]);
        Assert.Equal(n["timespec"], SizeOf<timespec>());
        Assert.Equal((int)LibC.STATX_TYPE, n["STATX_TYPE"]);
        Assert.Equal(LibC.S_IFREG, n["S_IFREG"]);
        Assert.Equal(LibC.S_IFIFO, n["S_IFIFO"]);
        Assert.Equal(n["tpacket2_hdr"], SizeOf<tpacket2_hdr>());
        Assert.Equal(PacketConstants.TxDataOffset, n["tpacket2_data_offset"]);
        Assert.Equal(n["tpacket2_hdr.tp_len"], OffsetOf<tpacket2_hdr>(nameof(tpacket2_hdr.tp_len)));
        Assert.Equal(n["tpacket2_hdr.tp_mac"], OffsetOf<tpacket2_hdr>(nameof(tpacket2_hdr.tp_mac)));
        Assert.Equal(n["tpacket2_hdr.tp_vlan_tci"], OffsetOf<tpacket2_hdr>(nameof(tpacket2_hdr.tp_vlan_tci)));
    }

    [Fact]
    public void Offsets_MatchKernelHeaders()
    {
        var n = Native.Value;
        Assert.Equal(n["tpacket_req3.tp_retire_blk_tov"], OffsetOf<tpacket_req3>(nameof(tpacket_req3.tp_retire_blk_tov)));
        Assert.Equal(n["tpacket_req3.tp_feature_req_word"], OffsetOf<tpacket_req3>(nameof(tpacket_req3.tp_feature_req_word)));
        Assert.Equal(n["tpacket_block_desc.hdr.bh1.block_status"], OffsetOf<tpacket_block_desc>(nameof(tpacket_block_desc.block_status)));
        Assert.Equal(n["tpacket_block_desc.hdr.bh1.num_pkts"], OffsetOf<tpacket_block_desc>(nameof(tpacket_block_desc.num_pkts)));
        Assert.Equal(n["tpacket_block_desc.hdr.bh1.offset_to_first_pkt"], OffsetOf<tpacket_block_desc>(nameof(tpacket_block_desc.offset_to_first_pkt)));
        Assert.Equal(n["tpacket_block_desc.hdr.bh1.seq_num"], OffsetOf<tpacket_block_desc>(nameof(tpacket_block_desc.seq_num)));
        Assert.Equal(n["tpacket3_hdr.tp_snaplen"], OffsetOf<tpacket3_hdr>(nameof(tpacket3_hdr.tp_snaplen)));
        Assert.Equal(n["tpacket3_hdr.tp_len"], OffsetOf<tpacket3_hdr>(nameof(tpacket3_hdr.tp_len)));
        Assert.Equal(n["tpacket3_hdr.tp_status"], OffsetOf<tpacket3_hdr>(nameof(tpacket3_hdr.tp_status)));
        Assert.Equal(n["tpacket3_hdr.tp_mac"], OffsetOf<tpacket3_hdr>(nameof(tpacket3_hdr.tp_mac)));
        Assert.Equal(n["tpacket3_hdr.tp_net"], OffsetOf<tpacket3_hdr>(nameof(tpacket3_hdr.tp_net)));
        Assert.Equal(n["tpacket3_hdr.hv1.tp_vlan_tci"], OffsetOf<tpacket3_hdr>(nameof(tpacket3_hdr.tp_vlan_tci)));
        Assert.Equal(n["sockaddr_ll.sll_ifindex"], OffsetOf<sockaddr_ll>(nameof(sockaddr_ll.sll_ifindex)));
        Assert.Equal(n["sockaddr_ll.sll_pkttype"], OffsetOf<sockaddr_ll>(nameof(sockaddr_ll.sll_pkttype)));
        Assert.Equal(n["sockaddr_ll.sll_addr"], OffsetOf<sockaddr_ll>(nameof(sockaddr_ll.sll_addr)));
        Assert.Equal(n["packet_mreq.mr_address"], OffsetOf<packet_mreq>(nameof(packet_mreq.mr_address)));
        Assert.Equal(n["tpacket_stats_v3.tp_drops"], OffsetOf<tpacket_stats_v3>(nameof(tpacket_stats_v3.tp_drops)));
        Assert.Equal(n["msghdr.msg_iov"], OffsetOf<msghdr>(nameof(msghdr.msg_iov)));
        Assert.Equal(n["msghdr.msg_iovlen"], OffsetOf<msghdr>(nameof(msghdr.msg_iovlen)));
        Assert.Equal(n["msghdr.msg_flags"], OffsetOf<msghdr>(nameof(msghdr.msg_flags)));
        Assert.Equal(n["mmsghdr.msg_len"], OffsetOf<mmsghdr>(nameof(mmsghdr.msg_len)));
        Assert.Equal(n["pollfd.revents"], OffsetOf<pollfd>(nameof(pollfd.revents)));
        Assert.Equal(n["virtio_net_hdr.gso_size"], OffsetOf<virtio_net_hdr>(nameof(virtio_net_hdr.gso_size)));
        Assert.Equal(n["virtio_net_hdr.csum_offset"], OffsetOf<virtio_net_hdr>(nameof(virtio_net_hdr.csum_offset)));
    }

    [Fact]
    public void Constants_MatchKernelHeaders()
    {
        var n = Native.Value;
        Assert.Equal(PacketConstants.PACKET_RX_RING, n["PACKET_RX_RING"]);
        Assert.Equal(PacketConstants.PACKET_VERSION, n["PACKET_VERSION"]);
        Assert.Equal(PacketConstants.PACKET_VNET_HDR, n["PACKET_VNET_HDR"]);
        Assert.Equal(PacketConstants.PACKET_FANOUT, n["PACKET_FANOUT"]);
        Assert.Equal(PacketConstants.PACKET_QDISC_BYPASS, n["PACKET_QDISC_BYPASS"]);
        Assert.Equal(PacketConstants.PACKET_IGNORE_OUTGOING, n["PACKET_IGNORE_OUTGOING"]);
        Assert.Equal(PacketConstants.TPACKET_V3, n["TPACKET_V3"]);
        Assert.Equal((int)PacketConstants.TP_STATUS_CSUMNOTREADY, n["TP_STATUS_CSUMNOTREADY"]);
        Assert.Equal(PacketConstants.PACKET_ADD_MEMBERSHIP, n["PACKET_ADD_MEMBERSHIP"]);
        Assert.Equal(PacketConstants.PACKET_STATISTICS, n["PACKET_STATISTICS"]);
        Assert.Equal(LibC.SOL_PACKET, n["SOL_PACKET"]);
        Assert.Equal(PacketConstants.PACKET_TX_RING, n["PACKET_TX_RING"]);
        Assert.Equal(PacketConstants.PACKET_FANOUT_DATA, n["PACKET_FANOUT_DATA"]);
        Assert.Equal(PacketConstants.PACKET_FANOUT_CBPF, n["PACKET_FANOUT_CBPF"]);
        // The opcodes of the fanout program, against the kernel's own macros.
        string[] opcodes = ["BPF_LDX_B_MSH", "BPF_LD_H_IND", "BPF_LD_W_ABS", "BPF_LDX_W_MEM", "BPF_XOR_X", "BPF_RET_A", "BPF_TAX",
            "BPF_LD_B_ABS", "BPF_LD_B_IND", "BPF_LD_W_IND", "BPF_ADD_X", "BPF_AND_K", "BPF_LSH_K", "BPF_JEQ_K", "BPF_MUL_K", "BPF_RSH_K", "BPF_ST", "BPF_LD_H_ABS"];
        var kernel = opcodes.Select(o => n[o]).ToHashSet();
        foreach (var side in new[] { true, false })
            foreach (var ins in LoadBalancer.Linux.Packet.ClientFanout.Program(side))
                Assert.Contains((int)ins.code, kernel);
        var program = LoadBalancer.Linux.Packet.ClientFanout.Program(clientIsSource: true);
        Assert.Equal(n["BPF_LD_B_ABS"], program[0].code);
        Assert.Equal(n["BPF_RSH_K"], program[1].code);
        Assert.Equal(n["BPF_JEQ_K"], program[2].code);
        Assert.Equal(n["BPF_RET_A"], program[^1].code);
        Assert.Equal(PacketConstants.PACKET_LOSS, n["PACKET_LOSS"]);
        Assert.Equal(PacketConstants.TPACKET_V2, n["TPACKET_V2"]);
        Assert.Equal((int)PacketConstants.TP_STATUS_SEND_REQUEST, n["TP_STATUS_SEND_REQUEST"]);
        Assert.Equal((int)PacketConstants.TP_STATUS_WRONG_FORMAT, n["TP_STATUS_WRONG_FORMAT"]);
    }

    [Fact]
    public void NeighborDiscoverySocketFilter_MatchesKernelHeaders()
    {
        var n = Native.Value;
        Assert.Equal(LibC.SO_ATTACH_FILTER, n["SO_ATTACH_FILTER"]);
        Assert.Equal(PacketConstants.ETH_P_IPV6, n["ETH_P_IPV6"]);
        // The filter's opcodes, against the kernel's own macros; it attaches a sock_fprog (sizes checked above).
        int[] kernel = [n["BPF_LD_H_ABS"], n["BPF_LD_B_ABS"], n["BPF_JEQ_K"], n["BPF_RET_K"]];
        var program = LoadBalancer.Linux.Packet.NeighborDiscoverySocket.Filter();
        Assert.All(program, ins => Assert.Contains((int)ins.code, kernel));
        Assert.Equal(n["BPF_LD_H_ABS"], program[0].code);
        Assert.Equal(n["BPF_RET_K"], program[^1].code);
    }

    [Fact]
    public void PrivilegeStructsAndConstants_MatchKernelHeaders()
    {
        var n = Native.Value;
        Assert.Equal(n["__user_cap_header_struct"], SizeOf<__user_cap_header_struct>());
        Assert.Equal(n["__user_cap_header_struct.pid"], OffsetOf<__user_cap_header_struct>(nameof(__user_cap_header_struct.pid)));
        Assert.Equal(n["__user_cap_data_struct"], SizeOf<__user_cap_data_struct>());
        Assert.Equal(n["__user_cap_data_struct.permitted"], OffsetOf<__user_cap_data_struct>(nameof(__user_cap_data_struct.permitted)));
        Assert.Equal(n["__user_cap_data_struct.inheritable"], OffsetOf<__user_cap_data_struct>(nameof(__user_cap_data_struct.inheritable)));
        Assert.Equal(n["ucred"], SizeOf<ucred>());
        Assert.Equal(n["ucred.uid"], OffsetOf<ucred>(nameof(ucred.uid)));
        Assert.Equal(n["ucred.gid"], OffsetOf<ucred>(nameof(ucred.gid)));
        Assert.Equal((int)LibC._LINUX_CAPABILITY_VERSION_3, n["_LINUX_CAPABILITY_VERSION_3"]);
        Assert.Equal(LibC._LINUX_CAPABILITY_U32S_3, n["_LINUX_CAPABILITY_U32S_3"]);
        Assert.Equal(LibC.CAP_NET_ADMIN, n["CAP_NET_ADMIN"]);
        Assert.Equal(LibC.CAP_NET_RAW, n["CAP_NET_RAW"]);
        Assert.Equal(LibC.SO_PEERCRED, n["SO_PEERCRED"]);
        Assert.Equal(LibC.SO_PEERGROUPS, n["SO_PEERGROUPS"]);
        Assert.Equal(LibC.ERANGE, n["ERANGE"]);
        Assert.Equal(LibC.EPERM, n["EPERM"]);
    }

    [Fact]
    public void XdpStructs_MatchKernelHeaders()
    {
        var n = Native.Value;
        Assert.Equal(n["sockaddr_xdp"], SizeOf<sockaddr_xdp>());
        foreach (var f in new[] { nameof(sockaddr_xdp.sxdp_flags), nameof(sockaddr_xdp.sxdp_ifindex), nameof(sockaddr_xdp.sxdp_queue_id), nameof(sockaddr_xdp.sxdp_shared_umem_fd) })
            Assert.Equal(n[$"sockaddr_xdp.{f}"], OffsetOf<sockaddr_xdp>(f));
        Assert.Equal(n["xdp_umem_reg"], SizeOf<xdp_umem_reg>());
        foreach (var f in new[] { nameof(xdp_umem_reg.len), nameof(xdp_umem_reg.chunk_size), nameof(xdp_umem_reg.headroom), nameof(xdp_umem_reg.flags) })
            Assert.Equal(n[$"xdp_umem_reg.{f}"], OffsetOf<xdp_umem_reg>(f));
        Assert.Equal(n["xdp_ring_offset"], SizeOf<xdp_ring_offset>());
        foreach (var f in new[] { nameof(xdp_ring_offset.consumer), nameof(xdp_ring_offset.desc), nameof(xdp_ring_offset.flags) })
            Assert.Equal(n[$"xdp_ring_offset.{f}"], OffsetOf<xdp_ring_offset>(f));
        Assert.Equal(n["xdp_mmap_offsets"], SizeOf<xdp_mmap_offsets>());
        foreach (var f in new[] { nameof(xdp_mmap_offsets.tx), nameof(xdp_mmap_offsets.fr), nameof(xdp_mmap_offsets.cr) })
            Assert.Equal(n[$"xdp_mmap_offsets.{f}"], OffsetOf<xdp_mmap_offsets>(f));
        Assert.Equal(n["xdp_desc"], SizeOf<xdp_desc>());
        Assert.Equal(n["xdp_desc.len"], OffsetOf<xdp_desc>(nameof(xdp_desc.len)));
        Assert.Equal(n["xdp_desc.options"], OffsetOf<xdp_desc>(nameof(xdp_desc.options)));
        Assert.Equal(n["xdp_statistics"], SizeOf<xdp_statistics>());
        foreach (var f in new[] { nameof(xdp_statistics.rx_invalid_descs), nameof(xdp_statistics.tx_invalid_descs), nameof(xdp_statistics.rx_ring_full),
                     nameof(xdp_statistics.rx_fill_ring_empty_descs), nameof(xdp_statistics.tx_ring_empty_descs) })
            Assert.Equal(n[$"xdp_statistics.{f}"], OffsetOf<xdp_statistics>(f));
        Assert.Equal(n["xdp_options"], SizeOf<xdp_options>());
        Assert.Equal(n["xdp_md"], SizeOf<xdp_md>());
        foreach (var f in new[] { nameof(xdp_md.data_end), nameof(xdp_md.data_meta), nameof(xdp_md.ingress_ifindex), nameof(xdp_md.rx_queue_index), nameof(xdp_md.egress_ifindex) })
            Assert.Equal(n[$"xdp_md.{f}"], OffsetOf<xdp_md>(f));
    }

    [Fact]
    public void XdpConstants_MatchKernelHeaders()
    {
        var n = Native64.Value;
        Assert.Equal(XdpConstants.AF_XDP, n["AF_XDP"]);
        Assert.Equal(XdpConstants.SOL_XDP, n["SOL_XDP"]);
        Assert.Equal(XdpConstants.XDP_MMAP_OFFSETS, n["XDP_MMAP_OFFSETS"]);
        Assert.Equal(XdpConstants.XDP_RX_RING, n["XDP_RX_RING"]);
        Assert.Equal(XdpConstants.XDP_TX_RING, n["XDP_TX_RING"]);
        Assert.Equal(XdpConstants.XDP_UMEM_REG, n["XDP_UMEM_REG"]);
        Assert.Equal(XdpConstants.XDP_UMEM_FILL_RING, n["XDP_UMEM_FILL_RING"]);
        Assert.Equal(XdpConstants.XDP_UMEM_COMPLETION_RING, n["XDP_UMEM_COMPLETION_RING"]);
        Assert.Equal(XdpConstants.XDP_STATISTICS, n["XDP_STATISTICS"]);
        Assert.Equal(XdpConstants.XDP_OPTIONS, n["XDP_OPTIONS"]);
        Assert.Equal(XdpConstants.XDP_SHARED_UMEM, n["XDP_SHARED_UMEM"]);
        Assert.Equal(XdpConstants.XDP_COPY, n["XDP_COPY"]);
        Assert.Equal(XdpConstants.XDP_ZEROCOPY, n["XDP_ZEROCOPY"]);
        Assert.Equal(XdpConstants.XDP_USE_NEED_WAKEUP, n["XDP_USE_NEED_WAKEUP"]);
        Assert.Equal(XdpConstants.XDP_RING_NEED_WAKEUP, n["XDP_RING_NEED_WAKEUP"]);
        Assert.Equal(XdpConstants.XDP_OPTIONS_ZEROCOPY, n["XDP_OPTIONS_ZEROCOPY"]);
        Assert.Equal(XdpConstants.XDP_PGOFF_RX_RING, n["XDP_PGOFF_RX_RING"]);
        Assert.Equal(XdpConstants.XDP_PGOFF_TX_RING, n["XDP_PGOFF_TX_RING"]);
        Assert.Equal(XdpConstants.XDP_UMEM_PGOFF_FILL_RING, n["XDP_UMEM_PGOFF_FILL_RING"]);
        Assert.Equal(XdpConstants.XDP_UMEM_PGOFF_COMPLETION_RING, n["XDP_UMEM_PGOFF_COMPLETION_RING"]);
        Assert.Equal(XdpConstants.XDP_FLAGS_SKB_MODE, n["XDP_FLAGS_SKB_MODE"]);
        Assert.Equal(XdpConstants.XDP_FLAGS_DRV_MODE, n["XDP_FLAGS_DRV_MODE"]);
        Assert.Equal(XdpConstants.XDP_DROP, n["XDP_DROP"]);
        Assert.Equal(XdpConstants.XDP_PASS, n["XDP_PASS"]);
        Assert.Equal(XdpConstants.XDP_REDIRECT, n["XDP_REDIRECT"]);
        Assert.Equal(XdpConstants.XDP_TX, n["XDP_TX"]);
        Assert.Equal(LibC.AF_INET, n["AF_INET"]);
        Assert.Equal(LibC.MAP_PRIVATE, n["MAP_PRIVATE"]);
        Assert.Equal(LibC.MAP_ANONYMOUS, n["MAP_ANONYMOUS"]);
        Assert.Equal(LibC.CLONE_NEWNET, n["CLONE_NEWNET"]);
        Assert.Equal(LibC.O_RDONLY, n["O_RDONLY"]);
        Assert.Equal(LibC.ENOENT, n["ENOENT"]);
        Assert.Equal(LibC.EACCES, n["EACCES"]);
        Assert.Equal(LibC.EAGAIN, n["EAGAIN"]);
        Assert.Equal(LibC.EBUSY, n["EBUSY"]);
        Assert.Equal(LibC.ENOBUFS, n["ENOBUFS"]);
    }

    [Fact]
    public void BpfStructs_MatchKernelHeaders()
    {
        var n = Native.Value;
        Assert.Equal(n["bpf_insn"], SizeOf<bpf_insn>());
        Assert.Equal(n["bpf_insn.off"], OffsetOf<bpf_insn>(nameof(bpf_insn.off)));
        Assert.Equal(n["bpf_insn.imm"], OffsetOf<bpf_insn>(nameof(bpf_insn.imm)));
        // Each variant of union bpf_attr, field by field against the union's own offsets.
        foreach (var f in new[] { "map_type", "key_size", "value_size", "max_entries", "map_flags", "inner_map_fd", "numa_node", "map_name" })
            Assert.Equal(n[$"bpf_attr.{f}"], OffsetOf<bpf_attr_map_create>(f));
        foreach (var f in new[] { "map_fd", "key", "value", "flags" })
            Assert.Equal(n[$"bpf_attr.{f}"], OffsetOf<bpf_attr_map_elem>(f));
        foreach (var f in new[] { "prog_type", "insn_cnt", "insns", "license", "log_level", "log_size", "log_buf", "kern_version", "prog_flags",
                     "prog_name", "prog_ifindex", "expected_attach_type" })
            Assert.Equal(n[$"bpf_attr.{f}"], OffsetOf<bpf_attr_prog_load>(f));
        foreach (var f in new[] { "prog_fd", "target_ifindex", "attach_type", "flags" })
            Assert.Equal(n[$"bpf_attr.link_create.{f}"], OffsetOf<bpf_attr_link_create>(f));
        foreach (var f in new[] { "prog_fd", "retval", "data_size_in", "data_size_out", "data_in", "data_out", "repeat", "duration", "ctx_size_in",
                     "ctx_size_out", "ctx_in", "ctx_out" })
            Assert.Equal(n[$"bpf_attr.test.{f}"], OffsetOf<bpf_attr_test_run>(f));
        // Each variant ends where its last field does (no tail past what the kernel reads for the command).
        Assert.Equal(n["bpf_attr.map_name"] + BpfConstants.BPF_OBJ_NAME_LEN, SizeOf<bpf_attr_map_create>());
        Assert.Equal(n["bpf_attr.flags"] + 8, SizeOf<bpf_attr_map_elem>());
        Assert.Equal(n["bpf_attr.expected_attach_type"] + 4, SizeOf<bpf_attr_prog_load>());
        Assert.Equal(n["bpf_attr.link_create.flags"] + 4, SizeOf<bpf_attr_link_create>());
        Assert.Equal(n["bpf_attr.test.ctx_out"] + 8, SizeOf<bpf_attr_test_run>());
    }

    [Fact]
    public void BpfConstants_MatchKernelHeaders()
    {
        var n = Native64.Value;
        Assert.Equal(BpfConstants.SYS_bpf, n["SYS_bpf"]);
        Assert.Equal(BpfConstants.BPF_MAP_CREATE, n["BPF_MAP_CREATE"]);
        Assert.Equal(BpfConstants.BPF_MAP_UPDATE_ELEM, n["BPF_MAP_UPDATE_ELEM"]);
        Assert.Equal(BpfConstants.BPF_MAP_DELETE_ELEM, n["BPF_MAP_DELETE_ELEM"]);
        Assert.Equal(BpfConstants.BPF_PROG_LOAD, n["BPF_PROG_LOAD"]);
        Assert.Equal(BpfConstants.BPF_LINK_CREATE, n["BPF_LINK_CREATE"]);
        Assert.Equal(BpfConstants.BPF_PROG_TEST_RUN, n["BPF_PROG_TEST_RUN"]);
        Assert.Equal(BpfConstants.BPF_MAP_TYPE_ARRAY, n["BPF_MAP_TYPE_ARRAY"]);
        Assert.Equal(BpfConstants.BPF_MAP_TYPE_HASH, n["BPF_MAP_TYPE_HASH"]);
        Assert.Equal(BpfConstants.BPF_MAP_TYPE_XSKMAP, n["BPF_MAP_TYPE_XSKMAP"]);
        Assert.Equal(BpfConstants.BPF_PROG_TYPE_XDP, n["BPF_PROG_TYPE_XDP"]);
        Assert.Equal(BpfConstants.BPF_XDP, n["BPF_XDP"]);
        Assert.Equal((long)BpfConstants.BPF_ANY, n["BPF_ANY"]);
        Assert.Equal(BpfConstants.BPF_PSEUDO_MAP_FD, n["BPF_PSEUDO_MAP_FD"]);
        Assert.Equal(BpfConstants.BPF_FUNC_map_lookup_elem, n["BPF_FUNC_map_lookup_elem"]);
        Assert.Equal(BpfConstants.BPF_FUNC_redirect_map, n["BPF_FUNC_redirect_map"]);
        Assert.Equal(BpfConstants.BPF_OBJ_NAME_LEN, n["BPF_OBJ_NAME_LEN"]);
        (string Name, byte Value)[] parts =
        [
            ("BPF_LD", BpfConstants.BPF_LD), ("BPF_LDX", BpfConstants.BPF_LDX), ("BPF_ST", BpfConstants.BPF_ST), ("BPF_STX", BpfConstants.BPF_STX),
            ("BPF_ALU", BpfConstants.BPF_ALU), ("BPF_JMP", BpfConstants.BPF_JMP), ("BPF_ALU64", BpfConstants.BPF_ALU64),
            ("BPF_W", BpfConstants.BPF_W), ("BPF_H", BpfConstants.BPF_H), ("BPF_B", BpfConstants.BPF_B), ("BPF_DW", BpfConstants.BPF_DW),
            ("BPF_IMM", BpfConstants.BPF_IMM), ("BPF_MEM", BpfConstants.BPF_MEM), ("BPF_ADD", BpfConstants.BPF_ADD), ("BPF_MOV", BpfConstants.BPF_MOV),
            ("BPF_JA", BpfConstants.BPF_JA), ("BPF_JEQ", BpfConstants.BPF_JEQ), ("BPF_JGT", BpfConstants.BPF_JGT), ("BPF_JNE", BpfConstants.BPF_JNE),
            ("BPF_CALL", BpfConstants.BPF_CALL), ("BPF_EXIT", BpfConstants.BPF_EXIT), ("BPF_K", BpfConstants.BPF_K), ("BPF_X", BpfConstants.BPF_X),
            ("BPF_AND", BpfConstants.BPF_AND), ("BPF_LSH", BpfConstants.BPF_LSH), ("BPF_JSET", BpfConstants.BPF_JSET), ("BPF_JLT", BpfConstants.BPF_JLT),
        ];
        foreach (var (name, value) in parts) Assert.True(n[name] == value, $"{name}: kernel {n[name]}, ours {value}");
    }
}
