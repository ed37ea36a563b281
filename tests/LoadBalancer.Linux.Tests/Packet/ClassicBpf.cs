using System.Buffers.Binary;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Tests.Packet;

/// <summary>A small interpreter of the classic-BPF programs the engine hands the kernel (fanout, socket filters), so
/// tests can run them over frames without a kernel.</summary>
internal static class ClassicBpf
{
    /// <summary>Classic BPF as the kernel defines it (linux/filter.h, Documentation/networking/filter.rst), for the
    /// instructions our programs use; anything else fails the test. A load past the end returns 0, as the kernel's does.</summary>
    public static uint Run(sock_filter[] program, byte[] p)
    {
        uint a = 0, x = 0;
        var m = new uint[16];
        for (var pc = 0; pc < program.Length; pc++)
        {
            var ins = program[pc];
            long at;
            switch (ins.code)
            {
                case 0x00 | 0x10 | 0x20:                                                                         // ldb [k]
                    if (ins.k >= p.Length) return 0;
                    a = p[ins.k];
                    break;
                case 0x00 | 0x10 | 0x40:                                                                         // ldb [x+k]
                    at = (long)x + ins.k;
                    if (at >= p.Length) return 0;
                    a = p[at];
                    break;
                case 0x01 | 0x10 | 0xa0: x = 4u * (p[ins.k] & 0xfu); break;                                        // ldx 4*([k]&0xf)
                case 0x00 | 0x08 | 0x40:                                                                         // ldh [x+k]
                    at = (long)x + ins.k;
                    if (at + 2 > p.Length) return 0;
                    a = BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan((int)at));
                    break;
                case 0x00 | 0x08 | 0x20:                                                                         // ldh [k]
                    if (ins.k + 2 > p.Length) return 0;
                    a = BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan((int)ins.k));
                    break;
                case 0x00 | 0x00 | 0x20:                                                                         // ld [k]
                    if (ins.k + 4 > p.Length) return 0;
                    a = BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan((int)ins.k));
                    break;
                case 0x00 | 0x00 | 0x40:                                                                         // ld [x+k]
                    at = (long)x + ins.k;
                    if (at + 4 > p.Length) return 0;
                    a = BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan((int)at));
                    break;
                case 0x02: m[ins.k] = a; break;                                                                  // st M[k]
                case 0x01 | 0x00 | 0x60: x = m[ins.k]; break;                                                    // ldx M[k]
                case 0x04 | 0xa0 | 0x08: a ^= x; break;                                                          // xor x
                case 0x04 | 0x00 | 0x08: a = unchecked(a + x); break;                                            // add x
                case 0x04 | 0x50: a &= ins.k; break;                                                             // and #k
                case 0x04 | 0x60: a <<= (int)ins.k; break;                                                       // lsh #k
                case 0x04 | 0x20: a = unchecked(a * ins.k); break;                                               // mul #k
                case 0x07: x = a; break;                                                                         // tax
                case 0x04 | 0x70: a >>= (int)ins.k; break;                                                       // rsh #k
                case 0x05 | 0x10: pc += a == ins.k ? ins.jt : ins.jf; break;                                     // jeq #k
                case 0x06 | 0x10: return a;                                                                      // ret a
                case 0x06 | 0x00: return ins.k;                                                                  // ret #k
                default: throw new InvalidOperationException($"opcode 0x{ins.code:x} not interpreted");
            }
        }
        throw new InvalidOperationException("program fell off its end");
    }
}
