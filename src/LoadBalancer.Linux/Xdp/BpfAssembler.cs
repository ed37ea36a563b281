using LoadBalancer.Linux.Interop;
using static LoadBalancer.Linux.Interop.BpfConstants;

namespace LoadBalancer.Linux.Xdp;

/// <summary>Just enough of an eBPF assembler for the XDP program: 64-bit moves, adds, masks and shifts, loads and stores, map
/// descriptors as 64-bit immediates, conditional and unconditional jumps to labels, helper calls and exit. Jumps are resolved when
/// the program is built, so the program reads top to bottom like its C source would.</summary>
internal sealed class BpfAssembler
{
    public const byte R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6, R7 = 7, R8 = 8, R9 = 9, R10 = 10;

    private readonly List<bpf_insn> _code = [];
    private readonly List<(int At, int Label)> _jumps = [];
    private readonly List<int> _labels = [];

    public readonly record struct Label(int Id);

    public Label NewLabel()
    {
        _labels.Add(-1);
        return new Label(_labels.Count - 1);
    }

    public void Mark(Label label) => _labels[label.Id] = _code.Count;

    public void MovReg(byte dst, byte src) => Emit(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);

    public void MovImm(byte dst, int imm) => Emit(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);

    public void AddImm(byte dst, int imm) => Emit(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm);

    public void AddReg(byte dst, byte src) => Emit(BPF_ALU64 | BPF_ADD | BPF_X, dst, src, 0, 0);

    public void AndImm(byte dst, int imm) => Emit(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, imm);

    public void ShiftLeftImm(byte dst, int imm) => Emit(BPF_ALU64 | BPF_LSH | BPF_K, dst, 0, 0, imm);

    /// <summary>dst = *(size *)(src + off); <paramref name="size"/> is BPF_B, BPF_H, BPF_W or BPF_DW.</summary>
    public void Load(byte size, byte dst, byte src, short off) => Emit((byte)(BPF_LDX | BPF_MEM | size), dst, src, off, 0);

    /// <summary>*(size *)(dst + off) = src.</summary>
    public void Store(byte size, byte dst, short off, byte src) => Emit((byte)(BPF_STX | BPF_MEM | size), dst, src, off, 0);

    /// <summary>BPF_LD_IMM64 with BPF_PSEUDO_MAP_FD: two instruction slots, the second holding the upper 32 bits (none).</summary>
    public void LoadMapFd(byte dst, int mapFd)
    {
        Emit(BPF_LD | BPF_IMM | BPF_DW, dst, BPF_PSEUDO_MAP_FD, 0, mapFd);
        Emit(0, 0, 0, 0, 0);
    }

    /// <summary>if (dst op src) goto label; <paramref name="op"/> is BPF_JEQ, BPF_JGT, BPF_JNE, ...</summary>
    public void JumpIfReg(byte op, byte dst, byte src, Label label)
    {
        _jumps.Add((_code.Count, label.Id));
        Emit((byte)(BPF_JMP | op | BPF_X), dst, src, 0, 0);
    }

    public void JumpIfImm(byte op, byte dst, int imm, Label label)
    {
        _jumps.Add((_code.Count, label.Id));
        Emit((byte)(BPF_JMP | op | BPF_K), dst, 0, 0, imm);
    }

    public void Jump(Label label)
    {
        _jumps.Add((_code.Count, label.Id));
        Emit(BPF_JMP | BPF_JA, 0, 0, 0, 0);
    }

    public void Call(int helper) => Emit(BPF_JMP | BPF_CALL, 0, 0, 0, helper);

    public void Exit() => Emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

    public bpf_insn[] Build()
    {
        var code = _code.ToArray();
        foreach (var (at, label) in _jumps)
        {
            var target = _labels[label];
            if (target < 0) throw new InvalidOperationException($"label {label} used but never marked");
            // Offsets count from the instruction after the jump.
            code[at].off = checked((short)(target - at - 1));
        }
        return code;
    }

    private void Emit(int code, byte dst, byte src, short off, int imm) =>
        _code.Add(new bpf_insn { code = (byte)code, regs = (byte)((src << 4) | (dst & 0xF)), off = off, imm = imm });
}
