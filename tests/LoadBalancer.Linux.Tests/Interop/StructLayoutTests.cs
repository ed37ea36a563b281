using System.Diagnostics;
using System.Runtime.InteropServices;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Tests.Interop;

/// <summary>Our interop structs against the kernel's own headers: a C program compiled here prints
/// sizeof/offsetof for each, and every field must agree. gcc and linux-libc-dev come with test.sh.</summary>
public sealed class StructLayoutTests
{
    private static readonly Lazy<Dictionary<string, int>> Native = new(CompileAndRun);

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
        #define S(t) printf("sizeof %s %zu\n", #t, sizeof(struct t));
        #define O(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(struct t, f));
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
          return 0;
        }
        """;

    private static Dictionary<string, int> CompileAndRun()
    {
        var dir = Directory.CreateTempSubdirectory("lb-layout-");
        try
        {
            var source = Path.Combine(dir.FullName, "layout.c");
            var binary = Path.Combine(dir.FullName, "layout");
            File.WriteAllText(source, Program);
            Run("cc", $"-o {binary} {source}");
            var values = new Dictionary<string, int>();
            foreach (var line in Run(binary, "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                values[parts[^2]] = int.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture);
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
}
