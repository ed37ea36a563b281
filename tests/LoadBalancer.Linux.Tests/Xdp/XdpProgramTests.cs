using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Interop;
using LoadBalancer.Linux.Xdp;
using static LoadBalancer.Linux.Interop.BpfConstants;

namespace LoadBalancer.Linux.Tests.Xdp;

/// <summary>The XDP program as assembled, and as the kernel's verifier judges it. Loading needs CAP_BPF (or
/// CAP_SYS_ADMIN); the tests run as root here and are skipped, with the reason, where they cannot.</summary>
public sealed class XdpProgramTests
{
    [Fact]
    public void Assemble_JumpsLandOnTheirLabels_AndTheProgramEndsWithExit()
    {
        var program = XdpProgram.Assemble(vipsFd: 7, socketsFd: 8);

        Assert.Equal(BPF_JMP | BPF_EXIT, program[^1].code);
        // Every conditional jump goes to the tail that returns XDP_PASS: r0 = 2, exit.
        var pass = program.Length - 2;
        Assert.Equal((BPF_ALU64 | BPF_MOV | BPF_K, 0, XdpConstants.XDP_PASS), (program[pass].code, program[pass].dst_reg, program[pass].imm));
        var jumps = Enumerable.Range(0, program.Length)
            .Where(i => (program[i].code & 0x07) == BPF_JMP && (program[i].code & 0xF0) is BPF_JGT or BPF_JNE or BPF_JEQ).ToArray();
        Assert.Equal(3, jumps.Length);
        Assert.All(jumps, i => Assert.Equal(pass, i + 1 + program[i].off));
    }

    [Fact]
    public void Assemble_MapsAreLoadedAsPseudoMapFdImmediates()
    {
        var program = XdpProgram.Assemble(vipsFd: 7, socketsFd: 8);

        var maps = Enumerable.Range(0, program.Length).Where(i => program[i].code == (BPF_LD | BPF_IMM | BPF_DW)).ToArray();
        Assert.Equal([7, 8], maps.Select(i => program[i].imm));
        Assert.All(maps, i => Assert.Equal((BPF_PSEUDO_MAP_FD, 1), (program[i].src_reg, program[i].dst_reg)));
        // The second half of a 64-bit immediate is all zero (the upper 32 bits of the descriptor).
        Assert.All(maps, i => Assert.Equal(default, program[i + 1]));
        var calls = program.Where(p => p.code == (BPF_JMP | BPF_CALL)).Select(p => p.imm);
        Assert.Equal([BPF_FUNC_map_lookup_elem, BPF_FUNC_redirect_map], calls);
    }

    [Fact]
    public void Assembler_UnmarkedLabel_Refused()
    {
        var a = new BpfAssembler();
        a.JumpIfImm(BPF_JEQ, BpfAssembler.R0, 0, a.NewLabel());

        Assert.Throws<InvalidOperationException>(a.Build);
    }

    [RootFact("loading an XDP program needs CAP_BPF or CAP_SYS_ADMIN")]
    public void Load_AsRoot_PassesTheVerifier_AndTakesVipsAndTheirRemoval()
    {
        using var program = XdpProgram.Load(maxVips: 16, maxQueues: 4);

        program.AddVip(Ipv4.Parse("10.77.0.100"));
        program.AddVip(Ipv4.Parse("10.77.0.100")); // updating an existing key is not an error
        Assert.True(program.RemoveVip(Ipv4.Parse("10.77.0.100")));
        Assert.False(program.RemoveVip(Ipv4.Parse("10.77.0.100")));
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
