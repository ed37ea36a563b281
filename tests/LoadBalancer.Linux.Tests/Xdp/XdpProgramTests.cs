using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;
using LoadBalancer.Linux.Interop;
using LoadBalancer.Linux.Xdp;
using static LoadBalancer.Linux.Interop.BpfConstants;

namespace LoadBalancer.Linux.Tests.Xdp;

/// <summary>The XDP program as assembled, and as the kernel's verifier judges it. Loading needs CAP_BPF (or
/// CAP_SYS_ADMIN); the tests run as root here and are skipped, with the reason, where they cannot.</summary>
public sealed class XdpProgramTests
{
    [Fact]
    public void Assemble_JumpsLandInsideTheProgram_AndItEndsWithThePassTail()
    {
        var program = XdpProgram.Assemble(Fds);

        Assert.Equal(BPF_JMP | BPF_EXIT, program[^1].code);
        var pass = program.Length - 2;
        Assert.Equal((BPF_ALU64 | BPF_MOV | BPF_K, 0, XdpConstants.XDP_PASS), (program[pass].code, program[pass].dst_reg, program[pass].imm));
        var jumps = Enumerable.Range(0, program.Length)
            .Where(i => (program[i].code & 0x07) == BPF_JMP && (program[i].code & 0xF0) is not (BPF_CALL or BPF_EXIT)).ToArray();
        Assert.NotEmpty(jumps);
        // Forward only (the verifier refuses loops it cannot bound), and never into the second half of a 64-bit load.
        Assert.All(jumps, i => Assert.InRange(i + 1 + program[i].off, i + 1, program.Length - 1));
        Assert.All(jumps, i => Assert.NotEqual(BPF_LD | BPF_IMM | BPF_DW, program[i + program[i].off].code));
    }

    [Fact]
    public void Assemble_MapsAreLoadedAsPseudoMapFdImmediates()
    {
        var program = XdpProgram.Assemble(Fds);

        var maps = Enumerable.Range(0, program.Length).Where(i => program[i].code == (BPF_LD | BPF_IMM | BPF_DW)).ToArray();
        // In the order the program asks them: IPv4's VIPs, settings and replies, IPv6's the same, the sockets.
        Assert.Equal([7, 10, 9, 11, 10, 12, 8], maps.Select(i => program[i].imm));
        Assert.All(maps, i => Assert.Equal((BPF_PSEUDO_MAP_FD, 1), (program[i].src_reg, program[i].dst_reg)));
        // The second half of a 64-bit immediate is all zero (the upper 32 bits of the descriptor).
        Assert.All(maps, i => Assert.Equal(default, program[i + 1]));
        var calls = program.Where(p => p.code == (BPF_JMP | BPF_CALL)).Select(p => p.imm);
        Assert.Equal([.. Enumerable.Repeat(BPF_FUNC_map_lookup_elem, 6), BPF_FUNC_redirect_map], calls);
    }

    private static readonly XdpProgram.MapFds Fds = new(Vips: 7, Vips6: 11, Replies: 9, Replies6: 12, Settings: 10, Sockets: 8);

    [Fact]
    public void Assembler_UnmarkedLabel_Refused()
    {
        var a = new BpfAssembler();
        a.JumpIfImm(BPF_JEQ, BpfAssembler.R0, 0, a.NewLabel());

        Assert.Throws<InvalidOperationException>(a.Build);
    }

    [RootFact("loading an XDP program needs CAP_BPF or CAP_SYS_ADMIN")]
    public void Load_AsRoot_PassesTheVerifier_AndTakesVipsRepliesAndTheirRemoval()
    {
        using var program = XdpProgram.Load(maxVips: 16, maxQueues: 4, maxReplies: 16);

        program.AddVip(Ipv4.Parse("10.77.0.100"));
        program.AddVip(Ipv4.Parse("10.77.0.100")); // updating an existing key is not an error
        Assert.True(program.RemoveVip(Ipv4.Parse("10.77.0.100")));
        Assert.False(program.RemoveVip(Ipv4.Parse("10.77.0.100")));
        program.AddReply(Ipv4.Parse("10.78.0.11"), IpProtocols.Tcp, 80);
        Assert.True(program.RemoveReply(Ipv4.Parse("10.78.0.11"), IpProtocols.Tcp, 80));
        Assert.False(program.RemoveReply(Ipv4.Parse("10.78.0.11"), IpProtocols.Tcp, 80));
        program.SetReplies(true, Ipv4.Parse("10.78.0.1"));
        program.AddVip(Ipv6.Parse("2001:db8::100"));
        Assert.True(program.RemoveVip(Ipv6.Parse("2001:db8::100")));
        Assert.False(program.RemoveVip(Ipv6.Parse("2001:db8::100")));
        program.AddReply(Ipv6.Parse("2001:db8:1::11"), IpProtocols.Tcp, 80);
        Assert.True(program.RemoveReply(Ipv6.Parse("2001:db8:1::11"), IpProtocols.Tcp, 80));
        Assert.False(program.RemoveReply(Ipv6.Parse("2001:db8:1::11"), IpProtocols.Tcp, 80));
        program.SetReplies(true, Ipv4.Parse("10.78.0.1"), Ipv6.Parse("2001:db8:1::1"));
    }

    private const string Vip = "10.77.0.100", Client = "198.51.100.7", Backend = "10.78.0.11", Local = "10.78.0.1", Other = "10.78.0.12";
    private const string Vip6 = "2001:db8::100", Client6 = "2001:db8:99::7", Backend6 = "2001:db8:1::11", Local6 = "2001:db8:1::1", Other6 = "2001:db8:1::12";
    private const uint Steered = XdpConstants.XDP_TX, Passed = XdpConstants.XDP_PASS;

    /// <summary>A program whose steered frames come back as XDP_TX (no socket is registered, and that is the fallback
    /// it was given), so a test run tells what it steers from what it passes.</summary>
    private static XdpProgram Marked(bool replies = true)
    {
        var program = XdpProgram.Load(maxVips: 16, maxQueues: 4, maxReplies: 16, noSocket: XdpConstants.XDP_TX);
        program.AddVip(Ipv4.Parse(Vip));
        program.AddReply(Ipv4.Parse(Backend), IpProtocols.Tcp, 8080);
        program.AddReply(Ipv4.Parse(Backend), IpProtocols.Udp, 53);
        program.AddVip(Ipv6.Parse(Vip6));
        program.AddReply(Ipv6.Parse(Backend6), IpProtocols.Tcp, 8080);
        program.AddReply(Ipv6.Parse(Backend6), 0, 0); // as XdpFrames adds it for every IPv6 backend
        if (replies) program.SetReplies(true, Ipv4.Parse(Local), Ipv6.Parse(Local6));
        return program;
    }

    public static TheoryData<string, byte[], uint> Frames() => new()
    {
        { "TCP to the VIP", FrameBuilder.Tcp(Client, 40000, Vip, 80).Build(), Steered },
        { "UDP to the VIP, IP options", FrameBuilder.Udp(Client, 40000, Vip, 53).IpOptions(1, 1, 1, 1).Build(), Steered },
        { "a fragment to the VIP (the engine counts it)", FrameBuilder.Udp(Client, 40000, Vip, 53).Fragment(false, 1480).Build(), Steered },
        { "TCP to another address", FrameBuilder.Tcp(Client, 40000, Other, 80).Build(), Passed },
        { "the backend's TCP reply to a client", FrameBuilder.Tcp(Backend, 8080, Client, 40000).Build(), Steered },
        { "the backend's reply, with IP options", FrameBuilder.Tcp(Backend, 8080, Client, 40000).IpOptions(1, 1, 1, 1, 1, 1, 1, 1).Build(), Steered },
        { "the backend's UDP reply", FrameBuilder.Udp(Backend, 53, Client, 40000).Build(), Steered },
        { "the backend's reply to the host itself (a health check)", FrameBuilder.Tcp(Backend, 8080, Local, 40000).Build(), Passed },
        { "the backend from another port", FrameBuilder.Tcp(Backend, 22, Client, 40000).Build(), Passed },
        { "the backend's port over the other protocol", FrameBuilder.Udp(Backend, 8080, Client, 40000).Build(), Passed },
        { "another host from the backend's port", FrameBuilder.Tcp(Other, 8080, Client, 40000).Build(), Passed },
        { "a non-first fragment from the backend", FrameBuilder.Tcp(Backend, 8080, Client, 40000).Fragment(false, 1480).Build(), Passed },
        { "ICMP unreachable to a client", FrameBuilder.Icmp(Other, Client).IcmpHeader(3, 4).Build(), Steered },
        { "ICMP time exceeded to a client", FrameBuilder.Icmp(Other, Client).IcmpHeader(11, 0).Build(), Steered },
        { "ICMP echo reply to a client", FrameBuilder.Icmp(Backend, Client).IcmpHeader(0, 0).Build(), Passed },
        { "ICMP unreachable to the host itself", FrameBuilder.Icmp(Backend, Local).IcmpHeader(3, 3).Build(), Passed },
        { "ARP", FrameBuilder.Tcp(Client, 40000, Vip, 80).EtherType(0x0806).Build(), Passed },
        { "IHL below 5", FrameBuilder.Tcp(Backend, 8080, Client, 40000).IhlWords(4).Build(), Passed },
        { "Ethernet only", FrameBuilder.Tcp(Client, 40000, Vip, 80).Build()[..20], Passed },
        { "IPv6: TCP to the VIP", Ipv6FrameBuilder.Tcp(Client6, 40000, Vip6, 80).Build(), Steered },
        { "IPv6: a fragment to the VIP", Ipv6FrameBuilder.Udp(Client6, 40000, Vip6, 53).Fragment(0, true).Build(), Steered },
        { "IPv6: TCP to another address", Ipv6FrameBuilder.Tcp(Client6, 40000, Other6, 80).Build(), Passed },
        { "IPv6: the backend's TCP reply", Ipv6FrameBuilder.Tcp(Backend6, 8080, Client6, 40000).Build(), Steered },
        { "IPv6: the backend's reply to the host itself", Ipv6FrameBuilder.Tcp(Backend6, 8080, Local6, 40000).Build(), Passed },
        { "IPv6: the backend from another port", Ipv6FrameBuilder.Tcp(Backend6, 22, Client6, 40000).Build(), Passed },
        { "IPv6: the backend's port over UDP", Ipv6FrameBuilder.Udp(Backend6, 8080, Client6, 40000).Build(), Passed },
        { "IPv6: another host from the backend's port", Ipv6FrameBuilder.Tcp(Other6, 8080, Client6, 40000).Build(), Passed },
        { "IPv6: the backend's reply behind an extension header", Ipv6FrameBuilder.Tcp(Backend6, 8080, Client6, 40000).Extension(0).Build(), Steered },
        { "IPv6: a fragment from the backend", Ipv6FrameBuilder.Tcp(Backend6, 8080, Client6, 40000).Fragment(1448, false).Build(), Steered },
        { "IPv6: an extension header from another host", Ipv6FrameBuilder.Tcp(Other6, 8080, Client6, 40000).Extension(0).Build(), Passed },
        { "ICMPv6 unreachable to a client", Ipv6FrameBuilder.Icmpv6(Other6, Client6, 1, 4).Build(), Steered },
        { "ICMPv6 packet too big to a client", Ipv6FrameBuilder.Icmpv6(Other6, Client6, 2).Build(), Steered },
        { "ICMPv6 parameter problem to a client", Ipv6FrameBuilder.Icmpv6(Other6, Client6, 4).Build(), Steered },
        { "ICMPv6 echo reply to a client", Ipv6FrameBuilder.Icmpv6(Backend6, Client6, 129).Build(), Passed },
        { "ICMPv6 neighbour solicitation", Ipv6FrameBuilder.Icmpv6(Backend6, "ff02::1:ff00:1", 135).Build(), Passed },
        { "ICMPv6 unreachable to the host itself", Ipv6FrameBuilder.Icmpv6(Backend6, Local6, 1, 3).Build(), Passed },
        { "IPv6 header cut short", Ipv6FrameBuilder.Tcp(Client6, 40000, Vip6, 80).Build()[..50], Passed },
    };

    [RootTheory("running an XDP program needs CAP_BPF or CAP_SYS_ADMIN")]
    [MemberData(nameof(Frames))]
    public void Run_SteersWhatTheEngineWants_AndPassesTheRest(string what, byte[] frame, uint expected)
    {
        using var program = Marked();
        var verdict = program.Run(frame);

        Assert.True(expected == verdict, $"{what}: expected {(expected == Steered ? "steered" : "passed")}, got {verdict}");
    }

    [RootFact("running an XDP program needs CAP_BPF or CAP_SYS_ADMIN")]
    public void Run_OnAnInterfaceWithoutReplies_OnlyTheVipsAreSteered()
    {
        using var program = Marked(replies: false);

        Assert.Equal(Steered, program.Run(FrameBuilder.Tcp(Client, 40000, Vip, 80).Build()));
        Assert.Equal(Passed, program.Run(FrameBuilder.Tcp(Backend, 8080, Client, 40000).Build()));
        Assert.Equal(Passed, program.Run(FrameBuilder.Icmp(Other, Client).IcmpHeader(3, 4).Build()));
        Assert.Equal(Steered, program.Run(Ipv6FrameBuilder.Tcp(Client6, 40000, Vip6, 80).Build()));
        Assert.Equal(Passed, program.Run(Ipv6FrameBuilder.Tcp(Backend6, 8080, Client6, 40000).Build()));
        Assert.Equal(Passed, program.Run(Ipv6FrameBuilder.Icmpv6(Other6, Client6, 1, 4).Build()));
    }

    /// <summary>A program that reads the packet without checking data_end first: the kernel refuses it, and the
    /// exception carries the verifier's own explanation.</summary>
    [RootFact("loading an XDP program needs CAP_BPF or CAP_SYS_ADMIN")]
    public void ProgLoad_UncheckedPacketRead_RefusedWithTheVerifiersLog()
    {
        var a = new BpfAssembler();
        a.Load(BPF_W, BpfAssembler.R2, BpfAssembler.R1, 0);
        a.Load(BPF_B, BpfAssembler.R0, BpfAssembler.R2, 0);
        a.Exit();

        var e = Assert.Throws<BpfProgramRejectedException>(() => Bpf.ProgLoad(a.Build(), "lb_bad").Dispose());

        Assert.Equal(LibC.EACCES, e.Errno);
        Assert.Contains("invalid access to packet", e.VerifierLog);
        Assert.Contains(e.VerifierLog, e.Message);
    }

    [RootFact("namespaces, veths and XDP programs need root")]
    public void Attach_NativeOnVeth_ShowsOnTheLink_AndDisposingDetaches()
    {
        using var ns = new TestNetworkNamespace();
        ns.In("link", "add", "v0", "type", "veth", "peer", "name", "v1");
        ns.In("link", "set", "v0", "up");
        ns.Run(() =>
        {
            using var program = XdpProgram.Load(maxVips: 4, maxQueues: 1);
            var attachment = program.Attach((int)LibC.if_nametoindex("v0"), XdpMode.Native);

            Assert.Contains("xdp", ns.Exec("ip", "link", "show", "v0"));
            attachment.Dispose();
            Assert.DoesNotContain("xdp", ns.Exec("ip", "link", "show", "v0"));
        });
    }
}
