using System.Runtime.InteropServices;

namespace LoadBalancer.Linux.Interop;

/// <summary>Constants from linux/bpf.h: the bpf(2) commands, map and program types and the eBPF opcode parts
/// the XDP program is assembled from.</summary>
internal static class BpfConstants
{
    /// <summary>__NR_bpf on x86_64 (asm/unistd_64.h); the project builds for linux-x64 only.</summary>
    public const int SYS_bpf = 321;

    public const int BPF_MAP_CREATE = 0;
    public const int BPF_MAP_UPDATE_ELEM = 2;
    public const int BPF_MAP_DELETE_ELEM = 3;
    public const int BPF_PROG_LOAD = 5;
    public const int BPF_PROG_TEST_RUN = 10;
    public const int BPF_LINK_CREATE = 28;

    public const uint BPF_MAP_TYPE_HASH = 1;
    public const uint BPF_MAP_TYPE_ARRAY = 2;
    public const uint BPF_MAP_TYPE_XSKMAP = 17;
    public const uint BPF_PROG_TYPE_XDP = 6;
    /// <summary>enum bpf_attach_type: BPF_LINK_CREATE on a network device's XDP hook.</summary>
    public const uint BPF_XDP = 37;

    public const ulong BPF_ANY = 0;

    // Instruction classes.
    public const byte BPF_LD = 0x00, BPF_LDX = 0x01, BPF_ST = 0x02, BPF_STX = 0x03, BPF_ALU = 0x04, BPF_JMP = 0x05, BPF_ALU64 = 0x07;
    // Sizes and modes of loads and stores.
    public const byte BPF_W = 0x00, BPF_H = 0x08, BPF_B = 0x10, BPF_DW = 0x18;
    public const byte BPF_IMM = 0x00, BPF_MEM = 0x60;
    // ALU and jump operations, and whether the operand is the immediate (K) or a register (X).
    public const byte BPF_ADD = 0x00, BPF_AND = 0x50, BPF_LSH = 0x60, BPF_MOV = 0xb0;
    public const byte BPF_JA = 0x00, BPF_JEQ = 0x10, BPF_JGT = 0x20, BPF_JSET = 0x40, BPF_JNE = 0x50, BPF_JLT = 0xa0, BPF_CALL = 0x80, BPF_EXIT = 0x90;
    public const byte BPF_K = 0x00, BPF_X = 0x08;

    /// <summary>In BPF_LD_IMM64's src_reg: the immediate is a map's file descriptor, which the kernel replaces with the map.</summary>
    public const byte BPF_PSEUDO_MAP_FD = 1;

    public const int BPF_FUNC_map_lookup_elem = 1;
    public const int BPF_FUNC_redirect_map = 51;

    public const int BPF_OBJ_NAME_LEN = 16;
}

/// <summary>struct bpf_insn. dst_reg and src_reg are 4-bit fields sharing a byte: dst in the low nibble (little-endian).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct bpf_insn
{
    public byte code;
    public byte regs;
    public short off;
    public int imm;

    public readonly int dst_reg => regs & 0xF;
    public readonly int src_reg => regs >> 4;
}

/// <summary>union bpf_attr, the anonymous struct of BPF_MAP_CREATE, up to map_name (the kernel zero-fills what is not passed).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct bpf_attr_map_create
{
    public uint map_type;
    public uint key_size;
    public uint value_size;
    public uint max_entries;
    public uint map_flags;
    public uint inner_map_fd;
    public uint numa_node;
    public fixed byte map_name[BpfConstants.BPF_OBJ_NAME_LEN];
}

/// <summary>union bpf_attr, the anonymous struct of BPF_MAP_*_ELEM (key, value: pointers as u64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct bpf_attr_map_elem
{
    public uint map_fd;
    public ulong key;
    public ulong value;
    public ulong flags;
}

/// <summary>union bpf_attr, the anonymous struct of BPF_PROG_LOAD, up to expected_attach_type.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct bpf_attr_prog_load
{
    public uint prog_type;
    public uint insn_cnt;
    public ulong insns;
    public ulong license;
    public uint log_level;
    public uint log_size;
    public ulong log_buf;
    public uint kern_version;
    public uint prog_flags;
    public fixed byte prog_name[BpfConstants.BPF_OBJ_NAME_LEN];
    public uint prog_ifindex;
    public uint expected_attach_type;
}

/// <summary>union bpf_attr, link_create, without the per-attach-type tail (XDP uses none).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct bpf_attr_link_create
{
    public uint prog_fd;
    public uint target_ifindex;
    public uint attach_type;
    public uint flags;
}

/// <summary>union bpf_attr, the anonymous struct of BPF_PROG_TEST_RUN, up to ctx_out (no flags, cpu or batch size).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct bpf_attr_test_run
{
    public uint prog_fd;
    public uint retval;
    public uint data_size_in;
    public uint data_size_out;
    public ulong data_in;
    public ulong data_out;
    public uint repeat;
    public uint duration;
    public uint ctx_size_in;
    public uint ctx_size_out;
    public ulong ctx_in;
    public ulong ctx_out;
}

/// <summary>The verifier refused a program; <see cref="VerifierLog"/> says why, instruction by instruction.</summary>
public sealed class BpfProgramRejectedException(int errno, string verifierLog)
    : Exception($"bpf(BPF_PROG_LOAD): {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}); verifier log:\n{verifierLog}")
{
    public int Errno { get; } = errno;
    public string VerifierLog { get; } = verifierLog;
}

/// <summary>The bpf(2) commands the XDP path uses, each returning an owned descriptor. glibc has no wrapper for bpf(2);
/// it goes through syscall(2). Control plane only: nothing here runs per packet.</summary>
internal static unsafe class Bpf
{
    private const int LogSize = 1 << 16;

    private static nint Call<T>(int command, ref T attr) where T : unmanaged
    {
        fixed (T* p = &attr)
            return LibC.syscall(BpfConstants.SYS_bpf, command, p, (nuint)sizeof(T));
    }

    public static FileDescriptor MapCreate(uint type, uint keySize, uint valueSize, uint maxEntries, string name)
    {
        var attr = new bpf_attr_map_create { map_type = type, key_size = keySize, value_size = valueSize, max_entries = maxEntries };
        CopyName(name, attr.map_name);
        var fd = Call(BpfConstants.BPF_MAP_CREATE, ref attr);
        if (fd < 0) throw NativeException.Last($"bpf(BPF_MAP_CREATE {name})");
        return new FileDescriptor((int)fd);
    }

    public static void MapUpdate(FileDescriptor map, void* key, void* value, string what)
    {
        var attr = new bpf_attr_map_elem { map_fd = (uint)map.Fd, key = (ulong)key, value = (ulong)value, flags = BpfConstants.BPF_ANY };
        if (Call(BpfConstants.BPF_MAP_UPDATE_ELEM, ref attr) < 0) throw NativeException.Last($"bpf(BPF_MAP_UPDATE_ELEM {what})");
    }

    /// <summary>False when the key was not there.</summary>
    public static bool MapDelete(FileDescriptor map, void* key, string what)
    {
        var attr = new bpf_attr_map_elem { map_fd = (uint)map.Fd, key = (ulong)key };
        if (Call(BpfConstants.BPF_MAP_DELETE_ELEM, ref attr) == 0) return true;
        var errno = Marshal.GetLastPInvokeError();
        if (errno == LibC.ENOENT) return false;
        throw new NativeException($"bpf(BPF_MAP_DELETE_ELEM {what})", errno);
    }

    /// <summary>Loads an XDP program. The first try asks for no log; when the verifier refuses, the load is repeated with
    /// log level 1 so the exception carries the verifier's own words (a log costs time, and a too-small buffer would turn
    /// a success into ENOSPC).</summary>
    /// <exception cref="BpfProgramRejectedException">The verifier (or the kernel before it) refused the program.</exception>
    public static FileDescriptor ProgLoad(ReadOnlySpan<bpf_insn> instructions, string name)
    {
        var license = "GPL\0"u8;
        fixed (bpf_insn* insns = instructions)
        fixed (byte* lic = license)
        {
            var attr = new bpf_attr_prog_load
            {
                prog_type = BpfConstants.BPF_PROG_TYPE_XDP,
                insn_cnt = (uint)instructions.Length,
                insns = (ulong)insns,
                license = (ulong)lic,
                expected_attach_type = BpfConstants.BPF_XDP,
            };
            CopyName(name, attr.prog_name);
            var fd = Call(BpfConstants.BPF_PROG_LOAD, ref attr);
            if (fd >= 0) return new FileDescriptor((int)fd);
            var firstErrno = Marshal.GetLastPInvokeError();
            var log = (byte*)NativeMemory.AllocZeroed(LogSize);
            try
            {
                attr.log_level = 1;
                attr.log_size = LogSize;
                attr.log_buf = (ulong)log;
                fd = Call(BpfConstants.BPF_PROG_LOAD, ref attr);
                // Refused without a log, then accepted with one: not expected, but the program is loaded and usable.
                if (fd >= 0) return new FileDescriptor((int)fd);
                var text = Marshal.PtrToStringUTF8((nint)log) ?? "";
                throw new BpfProgramRejectedException(firstErrno, text.Length == 0 ? "(empty)" : text);
            }
            finally
            {
                NativeMemory.Free(log);
            }
        }
    }

    /// <summary>Runs a loaded program once on <paramref name="frame"/> (not attached anywhere, queue 0): its return
    /// value. For tests of what the program decides.</summary>
    public static uint ProgTestRun(FileDescriptor program, ReadOnlySpan<byte> frame)
    {
        fixed (byte* data = frame)
        {
            var attr = new bpf_attr_test_run { prog_fd = (uint)program.Fd, data_in = (ulong)data, data_size_in = (uint)frame.Length, repeat = 1 };
            if (Call(BpfConstants.BPF_PROG_TEST_RUN, ref attr) < 0) throw NativeException.Last("bpf(BPF_PROG_TEST_RUN)");
            return attr.retval;
        }
    }

    /// <summary>A link owns the attachment: closing its descriptor (or the process dying) detaches the program.</summary>
    public static FileDescriptor LinkCreate(FileDescriptor program, int ifindex, uint xdpFlags)
    {
        var attr = new bpf_attr_link_create
        {
            prog_fd = (uint)program.Fd,
            target_ifindex = (uint)ifindex,
            attach_type = BpfConstants.BPF_XDP,
            flags = xdpFlags,
        };
        var fd = Call(BpfConstants.BPF_LINK_CREATE, ref attr);
        if (fd < 0) throw NativeException.Last($"bpf(BPF_LINK_CREATE ifindex {ifindex})");
        return new FileDescriptor((int)fd);
    }

    private static void CopyName(string name, byte* field)
    {
        // The kernel accepts only [A-Za-z0-9_.] and a NUL within the 16 bytes.
        var n = Math.Min(name.Length, BpfConstants.BPF_OBJ_NAME_LEN - 1);
        for (var i = 0; i < n; i++) field[i] = (byte)name[i];
    }
}
