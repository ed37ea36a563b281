using System.Buffers.Binary;
using System.Runtime.InteropServices;
using LoadBalancer.Linux.Interop;
using LoadBalancer.Core.Packets;
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
/// - an IPv4 or IPv6 frame whose destination is in the VIP map of its family;
/// - on an interface that carries NAT replies (the settings map says so), a frame not addressed to the interface's own
///   address (the host's conversations, health checks among them, stay the kernel's) that is either a TCP or UDP
///   datagram from an address, port and protocol in the reply map (a NAT backend), or an ICMP error (destination
///   unreachable, time exceeded, parameter problem: the NAT path translates those about its sessions); not a
///   non-first IPv4 fragment, which has no ports to match;
/// - the same over IPv6 (ICMPv6 errors 1 to 4; a datagram whose first header after the fixed one is an extension
///   header, a fragment header among them, is matched on the backend's address alone, so the engine sees every such
///   frame from a backend, as it does on AF_PACKET).
/// Everything else (ARP, neighbour discovery, other destinations, frames too short for the headers read) is XDP_PASS,
/// untouched.
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
    private readonly FileDescriptor _vips6;
    private readonly FileDescriptor _replies;
    private readonly FileDescriptor _replies6;
    private readonly FileDescriptor _settings;
    private readonly FileDescriptor _sockets;
    private readonly FileDescriptor _program;

    private XdpProgram(FileDescriptor vips, FileDescriptor vips6, FileDescriptor replies, FileDescriptor replies6, FileDescriptor settings,
        FileDescriptor sockets, FileDescriptor program)
    {
        _vips = vips;
        _vips6 = vips6;
        _replies = replies;
        _replies6 = replies6;
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

    /// <summary>The IPv6 reply map's key: the address (network byte order), then as <see cref="ReplyKey"/>; port and
    /// protocol 0 for the address alone.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 20)]
    private struct Reply6Key
    {
        public fixed byte Address[16];
        public ushort Port;
        public byte Protocol;
        public byte Zero;
    }

    /// <summary>The settings map's one value: the interface's own addresses (network byte order) and whether the
    /// interface carries NAT replies at all.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 24)]
    private struct Settings
    {
        public uint LocalAddress;
        public uint StealsReplies;
        public fixed byte LocalAddress6[16]; // at SettingsLocal6
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
        FileDescriptor? vips = null, vips6 = null, replies = null, replies6 = null, settings = null, sockets = null;
        try
        {
            vips = Bpf.MapCreate(BPF_MAP_TYPE_HASH, sizeof(uint), sizeof(byte), (uint)maxVips, "lb_vips");
            vips6 = Bpf.MapCreate(BPF_MAP_TYPE_HASH, 16, sizeof(byte), (uint)maxVips, "lb_vips6");
            replies = Bpf.MapCreate(BPF_MAP_TYPE_HASH, (uint)sizeof(ReplyKey), sizeof(byte), (uint)maxReplies, "lb_replies");
            replies6 = Bpf.MapCreate(BPF_MAP_TYPE_HASH, (uint)sizeof(Reply6Key), sizeof(byte), (uint)maxReplies, "lb_replies6");
            settings = Bpf.MapCreate(BPF_MAP_TYPE_ARRAY, sizeof(uint), (uint)sizeof(Settings), 1, "lb_settings");
            sockets = Bpf.MapCreate(BPF_MAP_TYPE_XSKMAP, sizeof(uint), sizeof(uint), (uint)maxQueues, "lb_xsks");
            var maps = new MapFds(vips.Fd, vips6.Fd, replies.Fd, replies6.Fd, settings.Fd, sockets.Fd);
            var program = Bpf.ProgLoad(Assemble(maps, noSocket), "lb_xdp");
            return new XdpProgram(vips, vips6, replies, replies6, settings, sockets, program);
        }
        catch
        {
            vips?.Dispose();
            vips6?.Dispose();
            replies?.Dispose();
            replies6?.Dispose();
            settings?.Dispose();
            sockets?.Dispose();
            throw;
        }
    }

    /// <summary>The maps' descriptors, as the program loads them.</summary>
    internal readonly record struct MapFds(int Vips, int Vips6, int Replies, int Replies6, int Settings, int Sockets);

    /// <summary>The program, for its map descriptors. Written as the C it stands for:
    /// <code>
    /// void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    /// if (data + 34 > end) return XDP_PASS;                       // Ethernet + a minimal IPv4 header
    /// if (eth->h_proto == htons(ETH_P_IPV6)) goto ipv6;
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
    /// goto steer;
    /// ipv6:                                                         // the same, over the fixed header only
    /// if (data + 54 > end) return XDP_PASS;
    /// if (bpf_map_lookup_elem(&amp;vips6, &amp;ip6->daddr)) goto steer;
    /// s = bpf_map_lookup_elem(&amp;settings, &amp;zero);
    /// if (!s || !s->steals_replies || data + 58 > end || ip6->daddr == s->local6) return XDP_PASS;
    /// l4 = data + 54;
    /// if (ip6->nexthdr == IPPROTO_ICMPV6) { if (type is 1, 2, 3 or 4) goto steer; return XDP_PASS; }
    /// struct reply6_key k6 = { ip6->saddr, 0, 0, 0 };               // an extension header first: the address alone
    /// if (ip6->nexthdr == TCP || == UDP) k6 = { ip6->saddr, l4->source, ip6->nexthdr, 0 };
    /// if (!bpf_map_lookup_elem(&amp;replies6, &amp;k6)) return XDP_PASS;
    /// steer: return bpf_redirect_map(&amp;xsks, ctx->rx_queue_index, noSocket);
    /// </code></summary>
    internal static bpf_insn[] Assemble(MapFds maps, int noSocket = XdpConstants.XDP_PASS)
    {
        const int EthernetHeader = 14, Ipv4Header = 20, Ipv6Header = 40, EtherTypeOffset = 12;
        const int Ip = EthernetHeader, FragmentOffset = Ip + 6, ProtocolOffset = Ip + 9, SourceOffset = Ip + 12, DestinationOffset = Ip + 16;
        const int NextHeaderOffset = Ip + 6, Source6Offset = Ip + 8, Destination6Offset = Ip + 24, L4Of6 = Ip + Ipv6Header;
        const int Icmp = 1, Tcp = 6, Udp = 17, Icmpv6 = 58;
        // The program reads memory in the host's byte order (little-endian on x86_64): 08 00 on the wire is 0x0008,
        // and the fragment offset's 13 bits (0x1fff on the wire) are 0xff1f.
        var ipv4EtherType = (int)BinaryPrimitives.ReverseEndianness((ushort)0x0800);
        var ipv6EtherType = (int)BinaryPrimitives.ReverseEndianness((ushort)0x86DD);
        var fragmentOffsetBits = (int)BinaryPrimitives.ReverseEndianness((ushort)0x1FFF);
        var a = new BpfAssembler();
        var pass = a.NewLabel();
        var steer = a.NewLabel();
        var ports = a.NewLabel();
        var ipv6 = a.NewLabel();
        a.MovReg(R6, R1); // the context survives the helper calls in a callee-saved register
        LoadPacket(a, EthernetHeader + Ipv4Header, pass);
        a.Load(BPF_H, R5, R2, EtherTypeOffset);
        a.JumpIfImm(BPF_JEQ, R5, ipv6EtherType, ipv6);
        a.JumpIfImm(BPF_JNE, R5, ipv4EtherType, pass);
        a.Load(BPF_W, R9, R2, DestinationOffset); // kept for the local-address test below
        a.Store(BPF_W, R10, -4, R9);
        LookUp(a, maps.Vips, -4);
        a.JumpIfImm(BPF_JNE, R0, 0, steer);

        // Not a VIP: a NAT reply, if this interface carries them.
        LookUpSettings(a, maps.Settings, pass);
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
        LookUp(a, maps.Replies, -8);
        a.JumpIfImm(BPF_JEQ, R0, 0, pass);
        a.Jump(steer);

        // IPv6: the fixed header, the destination copied to the stack as the VIP map's key.
        a.Mark(ipv6);
        LoadPacket(a, EthernetHeader + Ipv6Header, pass);
        CopyAddress(a, Destination6Offset, -16);
        LookUp(a, maps.Vips6, -16);
        a.JumpIfImm(BPF_JNE, R0, 0, steer);
        LookUpSettings(a, maps.Settings, pass);
        a.MovReg(R7, R0);
        // Every reply holds a transport header's first 4 bytes (an ICMPv6 type, or ports); shorter: the kernel's.
        LoadPacket(a, L4Of6 + 4, pass);
        var notLocal = a.NewLabel();
        for (short i = 0; i < 16; i += 4)
        {
            a.Load(BPF_W, R4, R2, (short)(Destination6Offset + i));
            a.Load(BPF_W, R5, R7, (short)(SettingsLocal6 + i));
            a.JumpIfReg(BPF_JNE, R4, R5, notLocal);
        }
        a.Jump(pass); // to the interface's own address: the host's (health checks)
        a.Mark(notLocal);
        a.Load(BPF_B, R8, R2, NextHeaderOffset);
        var notIcmp = a.NewLabel();
        a.JumpIfImm(BPF_JNE, R8, Icmpv6, notIcmp);
        a.Load(BPF_B, R5, R2, L4Of6); // the ICMPv6 type: the errors are 1 to 4
        a.JumpIfImm(BPF_JEQ, R5, 0, pass);
        a.JumpIfImm(BPF_JGT, R5, 4, pass);
        a.Jump(steer);
        a.Mark(notIcmp);
        CopyAddress(a, Source6Offset, -20);
        var key6 = a.NewLabel();
        var lookUp6 = a.NewLabel();
        a.JumpIfImm(BPF_JEQ, R8, Tcp, key6);
        a.JumpIfImm(BPF_JEQ, R8, Udp, key6);
        // Anything else (an extension header first, a fragment among them): the backend's address alone, port and
        // protocol 0, which the engine then parses as it would on AF_PACKET.
        a.MovImm(R5, 0);
        a.Store(BPF_W, R10, -4, R5);
        a.Jump(lookUp6);
        a.Mark(key6);
        a.Load(BPF_H, R5, R2, L4Of6); // the source port
        a.Store(BPF_H, R10, -4, R5);
        a.Store(BPF_B, R10, -2, R8);
        a.MovImm(R5, 0);
        a.Store(BPF_B, R10, -1, R5);
        a.Mark(lookUp6);
        LookUp(a, maps.Replies6, -20);
        a.JumpIfImm(BPF_JEQ, R0, 0, pass);

        a.Mark(steer);
        a.Load(BPF_W, R2, R6, Offset(nameof(xdp_md.rx_queue_index)));
        a.LoadMapFd(R1, maps.Sockets);
        a.MovImm(R3, noSocket); // no socket on this queue: the kernel's after all
        a.Call(BPF_FUNC_redirect_map);
        a.Exit();
        a.Mark(pass);
        a.MovImm(R0, XdpConstants.XDP_PASS);
        a.Exit();
        return a.Build();
    }

    private const int SettingsLocal6 = 8;

    /// <summary>r0 = this interface's settings, and to <paramref name="pass"/> unless it carries NAT replies.</summary>
    private static void LookUpSettings(BpfAssembler a, int settingsFd, BpfAssembler.Label pass)
    {
        a.MovImm(R1, 0);
        a.Store(BPF_W, R10, -4, R1);
        LookUp(a, settingsFd, -4);
        a.JumpIfImm(BPF_JEQ, R0, 0, pass); // never for index 0 of an array, but the verifier asks
        a.Load(BPF_W, R1, R0, 4);
        a.JumpIfImm(BPF_JEQ, R1, 0, pass);
    }

    /// <summary>The 16-byte address at <paramref name="frameOffset"/> (r2 the frame, its bound checked) to the stack
    /// at <paramref name="stackOffset"/>, four words, as a map key must lie.</summary>
    private static void CopyAddress(BpfAssembler a, short frameOffset, short stackOffset)
    {
        for (short i = 0; i < 16; i += 4)
        {
            a.Load(BPF_W, R5, R2, (short)(frameOffset + i));
            a.Store(BPF_W, R10, (short)(stackOffset + i), R5);
        }
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
    public void AddVip(uint address) => Put(_vips, Key(address), "lb_vips");

    /// <summary>False when the address was not in the map.</summary>
    public bool RemoveVip(uint address) => Delete(_vips, Key(address), "lb_vips");

    public void AddVip(UInt128 address) => Put(_vips6, Key6(address), "lb_vips6");

    /// <summary>False when the address was not in the map.</summary>
    public bool RemoveVip(UInt128 address) => Delete(_vips6, Key6(address), "lb_vips6");

    /// <summary>Frames from this NAT backend (address and port in host byte order, TCP or UDP) go to the engine, unless
    /// addressed to the interface itself; only once <see cref="SetReplies"/> has turned replies on.</summary>
    public void AddReply(uint address, byte protocol, ushort port) => Put(_replies, ReplyKeyOf(address, protocol, port), "lb_replies");

    /// <summary>False when it was not in the map.</summary>
    public bool RemoveReply(uint address, byte protocol, ushort port) => Delete(_replies, ReplyKeyOf(address, protocol, port), "lb_replies");

    /// <summary>The IPv6 backend's replies from this port, and (port 0 with protocol 0) its frames whose first header
    /// after the fixed one is an extension header; as <see cref="AddReply(uint, byte, ushort)"/> otherwise.</summary>
    public void AddReply(UInt128 address, byte protocol, ushort port) => Put(_replies6, Reply6KeyOf(address, protocol, port), "lb_replies6");

    /// <summary>False when it was not in the map.</summary>
    public bool RemoveReply(UInt128 address, byte protocol, ushort port) => Delete(_replies6, Reply6KeyOf(address, protocol, port), "lb_replies6");

    /// <summary>Whether this interface carries NAT replies (and ICMP errors to clients), and its own addresses (host
    /// byte order; 0 for none), whose traffic is the kernel's.</summary>
    public void SetReplies(bool steer, uint localAddress, UInt128 localAddress6 = default)
    {
        uint index = 0;
        var settings = new Settings { LocalAddress = Key(localAddress), StealsReplies = steer ? 1u : 0u };
        Ipv6Bytes(localAddress6, settings.LocalAddress6);
        Bpf.MapUpdate(_settings, &index, &settings, "lb_settings");
    }

    private static void Put<TKey>(FileDescriptor map, TKey key, string name) where TKey : unmanaged
    {
        byte present = 1;
        Bpf.MapUpdate(map, &key, &present, name);
    }

    private static bool Delete<TKey>(FileDescriptor map, TKey key, string name) where TKey : unmanaged => Bpf.MapDelete(map, &key, name);

    private static Reply6Key Reply6KeyOf(UInt128 address, byte protocol, ushort port)
    {
        var key = new Reply6Key
        {
            Port = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(port) : port,
            Protocol = protocol,
        };
        Ipv6Bytes(address, key.Address);
        return key;
    }

    private static void Ipv6Bytes(UInt128 address, byte* to) => Ipv6.Write(new Span<byte>(to, Ipv6.AddressLength), address);

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

    private static UInt128 Key6(UInt128 address) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(address) : address;

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
        _replies6.Dispose();
        _replies.Dispose();
        _vips6.Dispose();
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
