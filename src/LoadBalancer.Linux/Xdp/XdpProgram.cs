using System.Buffers.Binary;
using System.Runtime.InteropServices;
using LoadBalancer.Linux.Interop;
using static LoadBalancer.Linux.Interop.BpfConstants;
using static LoadBalancer.Linux.Xdp.BpfAssembler;

namespace LoadBalancer.Linux.Xdp;

/// <summary>How an XDP program is attached: in the driver (native; veth supports it, in copy mode for AF_XDP) or in the
/// generic path after the skb is built (works everywhere, gains little over AF_PACKET).</summary>
public enum XdpMode
{
    Native,
    Generic,
}

/// <summary>The XDP program that hands the engine its frames and everything else to the kernel: an IPv4 frame whose
/// destination is in the VIP map goes to the AF_XDP socket of the queue it arrived on, if one is registered
/// (bpf_redirect_map with XDP_PASS as the fallback); ARP, IPv6, other destinations and frames too short to hold an
/// IPv4 header are XDP_PASS, untouched. With it the nftables ingress drop is not needed: the kernel never sees a VIP
/// frame that a socket took. The VIP map is updated in place, so a new snapshot changes the set without a reload.
/// Invariant: the maps and the program live as long as this object; an <see cref="XdpAttachment"/> keeps its own
/// reference to the program in the kernel, and detaches when it is disposed or the process dies.</summary>
public sealed unsafe class XdpProgram : IDisposable
{
    public const int DefaultMaxVips = 4096;
    public const int DefaultMaxQueues = 64;

    private readonly FileDescriptor _vips;
    private readonly FileDescriptor _sockets;
    private readonly FileDescriptor _program;

    private XdpProgram(FileDescriptor vips, FileDescriptor sockets, FileDescriptor program)
    {
        _vips = vips;
        _sockets = sockets;
        _program = program;
    }

    /// <summary>Creates the maps and loads the program: the kernel's verifier checks it here, once, at start.</summary>
    /// <exception cref="BpfProgramRejectedException">The verifier refused it (its log is in the message).</exception>
    /// <exception cref="NativeException">A map could not be made (no CAP_BPF/CAP_SYS_ADMIN: EPERM).</exception>
    public static XdpProgram Load(int maxVips = DefaultMaxVips, int maxQueues = DefaultMaxQueues)
    {
        FileDescriptor? vips = null, sockets = null;
        try
        {
            vips = Bpf.MapCreate(BPF_MAP_TYPE_HASH, sizeof(uint), sizeof(byte), (uint)maxVips, "lb_vips");
            sockets = Bpf.MapCreate(BPF_MAP_TYPE_XSKMAP, sizeof(uint), sizeof(uint), (uint)maxQueues, "lb_xsks");
            var program = Bpf.ProgLoad(Assemble(vips.Fd, sockets.Fd), "lb_xdp");
            return new XdpProgram(vips, sockets, program);
        }
        catch
        {
            vips?.Dispose();
            sockets?.Dispose();
            throw;
        }
    }

    /// <summary>The program, for two map descriptors. Written as the C it stands for:
    /// <code>
    /// void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    /// if (data + 34 > end) return XDP_PASS;                       // Ethernet + a minimal IPv4 header
    /// if (((struct ethhdr *)data)->h_proto != htons(ETH_P_IP)) return XDP_PASS;
    /// __u32 key = ((struct iphdr *)(data + 14))->daddr;           // at 16 whatever the IHL
    /// if (!bpf_map_lookup_elem(&amp;vips, &amp;key)) return XDP_PASS;
    /// return bpf_redirect_map(&amp;xsks, ctx->rx_queue_index, XDP_PASS);
    /// </code></summary>
    internal static bpf_insn[] Assemble(int vipsFd, int socketsFd)
    {
        const int EthernetHeader = 14, Ipv4Header = 20, EtherTypeOffset = 12, DestinationOffset = EthernetHeader + 16;
        // The program reads memory in the host's byte order (little-endian on x86_64): 08 00 on the wire is 0x0008.
        var ipv4EtherType = (int)BinaryPrimitives.ReverseEndianness((ushort)0x0800);
        var a = new BpfAssembler();
        var pass = a.NewLabel();
        a.MovReg(R6, R1); // the context survives the helper call in a callee-saved register
        a.Load(BPF_W, R2, R6, Offset(nameof(xdp_md.data)));
        a.Load(BPF_W, R3, R6, Offset(nameof(xdp_md.data_end)));
        a.MovReg(R4, R2);
        a.AddImm(R4, EthernetHeader + Ipv4Header);
        // The verifier accepts the loads below only because this bound is checked first.
        a.JumpIfReg(BPF_JGT, R4, R3, pass);
        a.Load(BPF_H, R5, R2, EtherTypeOffset);
        a.JumpIfImm(BPF_JNE, R5, ipv4EtherType, pass);
        a.Load(BPF_W, R5, R2, DestinationOffset);
        a.Store(BPF_W, R10, -4, R5); // the key must be on the stack for the helper
        a.MovReg(R2, R10);
        a.AddImm(R2, -4);
        a.LoadMapFd(R1, vipsFd);
        a.Call(BPF_FUNC_map_lookup_elem);
        a.JumpIfImm(BPF_JEQ, R0, 0, pass);
        a.Load(BPF_W, R2, R6, Offset(nameof(xdp_md.rx_queue_index)));
        a.LoadMapFd(R1, socketsFd);
        a.MovImm(R3, XdpConstants.XDP_PASS); // no socket on this queue: the kernel's after all
        a.Call(BPF_FUNC_redirect_map);
        a.Exit();
        a.Mark(pass);
        a.MovImm(R0, XdpConstants.XDP_PASS);
        a.Exit();
        return a.Build();
    }

    private static short Offset(string field) => (short)Marshal.OffsetOf<xdp_md>(field);

    /// <param name="address">Host byte order, as <c>Ipv4.Parse</c> gives it.</param>
    public void AddVip(uint address)
    {
        var key = Key(address);
        byte present = 1;
        Bpf.MapUpdate(_vips, &key, &present, "lb_vips");
    }

    /// <summary>False when the address was not in the map.</summary>
    public bool RemoveVip(uint address)
    {
        var key = Key(address);
        return Bpf.MapDelete(_vips, &key, "lb_vips");
    }

    // The program compares the address as it lies in the frame: network byte order.
    private static uint Key(uint address) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(address) : address;

    /// <summary>Frames that arrive on <paramref name="queue"/> (and match a VIP) go to the AF_XDP socket
    /// <paramref name="socketFd"/>, which must be bound to that queue with an RX ring.</summary>
    /// <summary>Frames that arrive on the socket's queue (and match a VIP) go to <paramref name="socket"/>, which
    /// needs an RX ring.</summary>
    public void SetSocket(XdpSocket socket) => SetSocket(socket.QueueId, socket.Fd);

    internal void SetSocket(int queue, int socketFd)
    {
        var key = (uint)queue;
        var fd = (uint)socketFd;
        Bpf.MapUpdate(_sockets, &key, &fd, "lb_xsks");
    }

    /// <exception cref="NativeException">The interface refused the attachment: EBUSY when another program is there
    /// already, EOPNOTSUPP when its driver has no native XDP.</exception>
    public XdpAttachment Attach(int ifindex, XdpMode mode)
    {
        var flags = mode == XdpMode.Native ? XdpConstants.XDP_FLAGS_DRV_MODE : XdpConstants.XDP_FLAGS_SKB_MODE;
        return new XdpAttachment(Bpf.LinkCreate(_program, ifindex, flags), ifindex, mode);
    }

    public void Dispose()
    {
        _program.Dispose();
        _sockets.Dispose();
        _vips.Dispose();
    }
}

/// <summary>The program attached to one interface through a BPF link: disposing it (or the process ending, even by
/// SIGKILL) detaches the program, so no XDP program is left behind by an engine that dies.</summary>
public sealed class XdpAttachment : IDisposable
{
    private readonly FileDescriptor _link;

    internal XdpAttachment(FileDescriptor link, int ifindex, XdpMode mode)
    {
        _link = link;
        InterfaceIndex = ifindex;
        Mode = mode;
    }

    public int InterfaceIndex { get; }
    public XdpMode Mode { get; }

    public void Dispose() => _link.Dispose();
}
