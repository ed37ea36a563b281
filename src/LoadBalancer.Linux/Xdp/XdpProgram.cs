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

/// <summary>The XDP program that hands the engine its frames and everything else to the kernel. It steers to the AF_XDP
/// socket of the queue a frame arrived on (bpf_redirect_map, XDP_PASS as the fallback when the queue has none):
/// - an IPv4 frame whose destination is in the VIP map;
/// - on an interface that carries NAT replies (the settings map says so), a frame not addressed to the interface's own
///   address (the host's conversations, health checks among them, stay the kernel's) that is either a TCP or UDP
///   datagram from an address, port and protocol in the reply map (a NAT backend), or an ICMP error (destination
///   unreachable, time exceeded, parameter problem: the NAT path translates those about its sessions); not a
///   non-first fragment, which has no ports to match.
/// Everything else (ARP, IPv6, other destinations, frames too short for the headers read) is XDP_PASS, untouched.
/// With it the nftables ingress drop is not needed: the kernel never sees a frame that a socket took. The maps are
/// updated in place, so a new snapshot changes the sets without a reload.
/// Invariant: the maps and the program live as long as this object; an <see cref="XdpAttachment"/> keeps its own
/// reference to the program in the kernel, and detaches when it is disposed or the process dies.</summary>
public sealed unsafe class XdpProgram : IDisposable
{
    public const int DefaultMaxVips = 4096;
    public const int DefaultMaxReplies = 65536;
    public const int DefaultMaxQueues = 64;

    private readonly FileDescriptor _vips;
    private readonly FileDescriptor _replies;
    private readonly FileDescriptor _settings;
    private readonly FileDescriptor _sockets;
    private readonly FileDescriptor _program;

    private XdpProgram(FileDescriptor vips, FileDescriptor replies, FileDescriptor settings, FileDescriptor sockets, FileDescriptor program)
    {
        _vips = vips;
        _replies = replies;
        _settings = settings;
        _sockets = sockets;
        _program = program;
    }

    /// <summary>The reply map's key: a NAT backend's address and port as they lie in the frame (network byte order),
    /// and the protocol.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 8)]
    private struct ReplyKey
    {
        public uint Address;
        public ushort Port;
        public byte Protocol;
        public byte Zero;
    }

    /// <summary>The settings map's one value: the interface's own address (network byte order) and whether the
    /// interface carries NAT replies at all.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Settings
    {
        public uint LocalAddress;
        public uint StealsReplies;
    }

    /// <summary>Creates the maps and loads the program: the kernel's verifier checks it here, once, at start.</summary>
    /// <exception cref="BpfProgramRejectedException">The verifier refused it (its log is in the message).</exception>
    /// <exception cref="NativeException">A map could not be made (no CAP_BPF/CAP_SYS_ADMIN: EPERM).</exception>
    public static XdpProgram Load(int maxVips = DefaultMaxVips, int maxQueues = DefaultMaxQueues, int maxReplies = DefaultMaxReplies) =>
        Load(maxVips, maxQueues, maxReplies, XdpConstants.XDP_PASS);

    /// <param name="noSocket">What a steered frame becomes when its queue has no socket: XDP_PASS in the engine;
    /// the tests pick another value to tell "steered" from "passed" in a test run.</param>
    internal static XdpProgram Load(int maxVips, int maxQueues, int maxReplies, int noSocket)
    {
        FileDescriptor? vips = null, replies = null, settings = null, sockets = null;
        try
        {
            vips = Bpf.MapCreate(BPF_MAP_TYPE_HASH, sizeof(uint), sizeof(byte), (uint)maxVips, "lb_vips");
            replies = Bpf.MapCreate(BPF_MAP_TYPE_HASH, (uint)sizeof(ReplyKey), sizeof(byte), (uint)maxReplies, "lb_replies");
            settings = Bpf.MapCreate(BPF_MAP_TYPE_ARRAY, sizeof(uint), (uint)sizeof(Settings), 1, "lb_settings");
            sockets = Bpf.MapCreate(BPF_MAP_TYPE_XSKMAP, sizeof(uint), sizeof(uint), (uint)maxQueues, "lb_xsks");
            var program = Bpf.ProgLoad(Assemble(vips.Fd, socketsFd: sockets.Fd, repliesFd: replies.Fd, settingsFd: settings.Fd, noSocket), "lb_xdp");
            return new XdpProgram(vips, replies, settings, sockets, program);
        }
        catch
        {
            vips?.Dispose();
            replies?.Dispose();
            settings?.Dispose();
            sockets?.Dispose();
            throw;
        }
    }

    /// <summary>The program, for its map descriptors. Written as the C it stands for:
    /// <code>
    /// void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    /// if (data + 34 > end) return XDP_PASS;                       // Ethernet + a minimal IPv4 header
    /// if (eth->h_proto != htons(ETH_P_IP)) return XDP_PASS;
    /// __u32 daddr = ip->daddr;                                    // at 14 + 16 whatever the IHL
    /// if (bpf_map_lookup_elem(&amp;vips, &amp;daddr)) goto steer;
    /// struct settings *s = bpf_map_lookup_elem(&amp;settings, &amp;zero);
    /// if (!s || !s->steals_replies || ip->daddr == s->local) return XDP_PASS;
    /// if (ip->frag_off &amp; htons(0x1fff)) return XDP_PASS;        // a non-first fragment: no ports
    /// l4 = data + 14 + ip->ihl * 4; if (ip->ihl &lt; 5 || l4 + 4 > end) return XDP_PASS;
    /// if (ip->protocol == IPPROTO_ICMP) { if (type is 3, 11 or 12) goto steer; return XDP_PASS; }
    /// if (ip->protocol != TCP &amp;&amp; != UDP) return XDP_PASS;
    /// struct reply_key k = { ip->saddr, l4->source, ip->protocol, 0 };
    /// if (!bpf_map_lookup_elem(&amp;replies, &amp;k)) return XDP_PASS;
    /// steer: return bpf_redirect_map(&amp;xsks, ctx->rx_queue_index, noSocket);
    /// </code></summary>
    internal static bpf_insn[] Assemble(int vipsFd, int socketsFd, int repliesFd, int settingsFd, int noSocket = XdpConstants.XDP_PASS)
    {
        const int EthernetHeader = 14, Ipv4Header = 20, EtherTypeOffset = 12;
        const int Ip = EthernetHeader, FragmentOffset = Ip + 6, ProtocolOffset = Ip + 9, SourceOffset = Ip + 12, DestinationOffset = Ip + 16;
        const int Icmp = 1, Tcp = 6, Udp = 17;
        // The program reads memory in the host's byte order (little-endian on x86_64): 08 00 on the wire is 0x0008,
        // and the fragment offset's 13 bits (0x1fff on the wire) are 0xff1f.
        var ipv4EtherType = (int)BinaryPrimitives.ReverseEndianness((ushort)0x0800);
        var fragmentOffsetBits = (int)BinaryPrimitives.ReverseEndianness((ushort)0x1FFF);
        var a = new BpfAssembler();
        var pass = a.NewLabel();
        var steer = a.NewLabel();
        var ports = a.NewLabel();
        a.MovReg(R6, R1); // the context survives the helper calls in a callee-saved register
        LoadPacket(a, EthernetHeader + Ipv4Header, pass);
        a.Load(BPF_H, R5, R2, EtherTypeOffset);
        a.JumpIfImm(BPF_JNE, R5, ipv4EtherType, pass);
        a.Load(BPF_W, R9, R2, DestinationOffset); // kept for the local-address test below
        a.Store(BPF_W, R10, -4, R9);
        LookUp(a, vipsFd, -4);
        a.JumpIfImm(BPF_JNE, R0, 0, steer);

        // Not a VIP: a NAT reply, if this interface carries them.
        a.MovImm(R1, 0);
        a.Store(BPF_W, R10, -4, R1);
        LookUp(a, settingsFd, -4);
        a.JumpIfImm(BPF_JEQ, R0, 0, pass); // never for index 0 of an array, but the verifier asks
        a.Load(BPF_W, R1, R0, 4);
        a.JumpIfImm(BPF_JEQ, R1, 0, pass);
        a.Load(BPF_W, R1, R0, 0);
        a.JumpIfReg(BPF_JEQ, R9, R1, pass);
        // The helper calls clobbered r1-r5: the packet pointers again, and their bound again for the verifier.
        LoadPacket(a, EthernetHeader + Ipv4Header, pass);
        a.Load(BPF_H, R5, R2, FragmentOffset);
        a.JumpIfImm(BPF_JSET, R5, fragmentOffsetBits, pass);
        a.Load(BPF_W, R8, R2, SourceOffset);
        a.Load(BPF_B, R7, R2, ProtocolOffset);
        a.Load(BPF_B, R4, R2, Ip);
        a.AndImm(R4, 0x0F);
        a.ShiftLeftImm(R4, 2);
        a.JumpIfImm(BPF_JLT, R4, Ipv4Header, pass);
        a.AddReg(R2, R4); // r2 + 14: the transport header, wherever the options end
        a.MovReg(R4, R2);
        a.AddImm(R4, EthernetHeader + 4);
        a.JumpIfReg(BPF_JGT, R4, R3, pass);
        a.JumpIfImm(BPF_JNE, R7, Icmp, ports);
        a.Load(BPF_B, R5, R2, EthernetHeader); // the ICMP type
        a.JumpIfImm(BPF_JEQ, R5, 3, steer);
        a.JumpIfImm(BPF_JEQ, R5, 11, steer);
        a.JumpIfImm(BPF_JEQ, R5, 12, steer);
        a.Jump(pass);
        a.Mark(ports);
        var key = a.NewLabel();
        a.JumpIfImm(BPF_JEQ, R7, Tcp, key);
        a.JumpIfImm(BPF_JNE, R7, Udp, pass);
        a.Mark(key);
        a.Load(BPF_H, R5, R2, EthernetHeader); // the source port
        a.Store(BPF_W, R10, -8, R8);
        a.Store(BPF_H, R10, -4, R5);
        a.Store(BPF_B, R10, -2, R7);
        a.MovImm(R5, 0);
        a.Store(BPF_B, R10, -1, R5);
        LookUp(a, repliesFd, -8);
        a.JumpIfImm(BPF_JEQ, R0, 0, pass);

        a.Mark(steer);
        a.Load(BPF_W, R2, R6, Offset(nameof(xdp_md.rx_queue_index)));
        a.LoadMapFd(R1, socketsFd);
        a.MovImm(R3, noSocket); // no socket on this queue: the kernel's after all
        a.Call(BPF_FUNC_redirect_map);
        a.Exit();
        a.Mark(pass);
        a.MovImm(R0, XdpConstants.XDP_PASS);
        a.Exit();
        return a.Build();
    }

    /// <summary>r2, r3 = the frame's start and end (again after a helper call clobbered them), and to
    /// <paramref name="pass"/> unless it holds <paramref name="bytes"/>: the verifier accepts the loads that follow only
    /// because this bound is checked first.</summary>
    private static void LoadPacket(BpfAssembler a, int bytes, BpfAssembler.Label pass)
    {
        a.Load(BPF_W, R2, R6, Offset(nameof(xdp_md.data)));
        a.Load(BPF_W, R3, R6, Offset(nameof(xdp_md.data_end)));
        a.MovReg(R4, R2);
        a.AddImm(R4, bytes);
        a.JumpIfReg(BPF_JGT, R4, R3, pass);
    }

    /// <summary>r0 = bpf_map_lookup_elem(map, r10 + keyOffset): a helper's key must be on the stack, written there first.</summary>
    private static void LookUp(BpfAssembler a, int mapFd, short keyOffset)
    {
        a.MovReg(R2, R10);
        a.AddImm(R2, keyOffset);
        a.LoadMapFd(R1, mapFd);
        a.Call(BPF_FUNC_map_lookup_elem);
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

    /// <summary>Frames from this NAT backend (address and port in host byte order, TCP or UDP) go to the engine, unless
    /// addressed to the interface itself; only once <see cref="SetReplies"/> has turned replies on.</summary>
    public void AddReply(uint address, byte protocol, ushort port)
    {
        var key = ReplyKeyOf(address, protocol, port);
        byte present = 1;
        Bpf.MapUpdate(_replies, &key, &present, "lb_replies");
    }

    /// <summary>False when it was not in the map.</summary>
    public bool RemoveReply(uint address, byte protocol, ushort port)
    {
        var key = ReplyKeyOf(address, protocol, port);
        return Bpf.MapDelete(_replies, &key, "lb_replies");
    }

    /// <summary>Whether this interface carries NAT replies (and ICMP errors to clients), and its own address (host byte
    /// order; 0 for none), whose traffic is the kernel's.</summary>
    public void SetReplies(bool steer, uint localAddress)
    {
        uint index = 0;
        var settings = new Settings { LocalAddress = Key(localAddress), StealsReplies = steer ? 1u : 0u };
        Bpf.MapUpdate(_settings, &index, &settings, "lb_settings");
    }

    private static ReplyKey ReplyKeyOf(uint address, byte protocol, ushort port) => new()
    {
        Address = Key(address),
        Port = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(port) : port,
        Protocol = protocol,
    };

    /// <summary>What the program returns for <paramref name="frame"/> (run by the kernel, not attached: queue 0).</summary>
    internal uint Run(ReadOnlySpan<byte> frame) => Bpf.ProgTestRun(_program, frame);

    // The program compares the address as it lies in the frame: network byte order.
    private static uint Key(uint address) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(address) : address;

    /// <summary>Frames that arrive on the socket's queue (and are steered) go to <paramref name="socket"/>, which
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
        _settings.Dispose();
        _replies.Dispose();
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
