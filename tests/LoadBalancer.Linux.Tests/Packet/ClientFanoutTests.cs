using System.Buffers.Binary;
using LoadBalancer.Core.Flows;
using LoadBalancer.Linux.Interop;
using LoadBalancer.Linux.Packet;

namespace LoadBalancer.Linux.Tests.Packet;

/// <summary>The fanout program the kernel runs computes <see cref="WorkerFanout.Hash"/>, which the engine uses to tell
/// which worker a synced flow belongs to. A lab cannot prove that two hosts agree (namespaces of one host share the
/// kernel's seed, so even PACKET_FANOUT_HASH would look consistent there); running the program here, in a small
/// interpreter of the classic-BPF instructions it uses, proves that its result depends on the frame alone.</summary>
public class ClientFanoutTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Program_ComputesWorkerFanoutHash_OnEitherSide(bool clientIsSource)
    {
        var program = ClientFanout.Program(clientIsSource);
        var random = new Random(7);
        for (var i = 0; i < 2000; i++)
        {
            var client = (uint)random.NextInt64(0, uint.MaxValue);
            var other = (uint)random.NextInt64(0, uint.MaxValue);
            var clientPort = (ushort)random.Next(0, 65536);
            var otherPort = (ushort)random.Next(0, 65536);
            var ihl = random.Next(5, 16); // options must not move the ports the program reads
            var packet = clientIsSource
                ? Ipv4Tcp(ihl, client, other, clientPort, otherPort)
                : Ipv4Tcp(ihl, other, client, otherPort, clientPort);

            Assert.Equal(WorkerFanout.Hash(client, clientPort), Run(program, packet));
        }
    }

    /// <summary>An ICMP error is keyed on the datagram it quotes: a reply VIP:port → client on the client side, a
    /// translated packet client → backend on the backend side, so it reaches the worker holding that flow.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Program_KeysIcmpErrorsOnTheQuotedFlow(bool clientIsSource)
    {
        var program = ClientFanout.Program(clientIsSource);
        var random = new Random(11);
        for (var i = 0; i < 2000; i++)
        {
            var client = (uint)random.NextInt64(0, uint.MaxValue);
            var other = (uint)random.NextInt64(0, uint.MaxValue);
            var clientPort = (ushort)random.Next(0, 65536);
            var otherPort = (ushort)random.Next(0, 65536);
            var quote = clientIsSource
                ? Ipv4Tcp(random.Next(5, 16), other, client, otherPort, clientPort)
                : Ipv4Tcp(random.Next(5, 16), client, other, clientPort, otherPort);
            var outerIhl = random.Next(5, 16);
            var packet = new byte[outerIhl * 4 + 8 + quote.Length];
            packet[0] = (byte)(0x40 | outerIhl);
            packet[9] = 1;
            BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(12), (uint)random.NextInt64(0, uint.MaxValue));
            BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(16), (uint)random.NextInt64(0, uint.MaxValue));
            packet[outerIhl * 4] = 3;
            packet[outerIhl * 4 + 1] = 4;
            quote.CopyTo(packet.AsSpan(outerIhl * 4 + 8));

            Assert.Equal(WorkerFanout.Hash(client, clientPort), Run(program, packet));
        }
    }

    [Fact]
    public void Program_IcmpQuotingPastTheEnd_EndsWithZero()
    {
        var packet = new byte[20 + 8 + 10];
        packet[0] = 0x45;
        packet[9] = 1;
        packet[28] = 0x45;
        Assert.Equal(0u, Run(ClientFanout.Program(true), packet));
    }

    [Fact]
    public void Hash_HasNoHostInput_SoTwoBalancersAgree()
    {
        // Fixed values: a change here would move flows between workers on an upgraded balancer only.
        // 10.99.2.2:40000, worked out by hand from the formula in WorkerFanout's summary.
        Assert.Equal(0x00DB9D79u, WorkerFanout.Hash(0x0A630202, 40000));
        Assert.Equal(0, WorkerFanout.Worker(0x0A630202, 40000, 1));
        Assert.Equal(1, WorkerFanout.Worker(0x0A630202, 40000, 2));
        Assert.Equal(2, WorkerFanout.Worker(0x0A630202, 40000, 3));
    }

    [Fact]
    public void Worker_SpreadsClientsEvenly()
    {
        var counts = new int[4];
        for (ushort port = 1024; port < 1024 + 40_000; port++) counts[WorkerFanout.Worker(0x0A630202, port, 4)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_000, 11_000));
    }

    private static byte[] Ipv4Tcp(int ihl, uint source, uint destination, ushort sourcePort, ushort destinationPort)
    {
        var p = new byte[ihl * 4 + 20];
        p[0] = (byte)(0x40 | ihl);
        p[9] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(12), source);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(16), destination);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ihl * 4), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ihl * 4 + 2), destinationPort);
        return p;
    }

    /// <summary>Classic BPF as the kernel defines it (linux/filter.h, Documentation/networking/filter.rst), for the
    /// instructions the program uses; anything else fails the test. A load past the end returns 0, as the kernel's does.</summary>
    private static uint Run(sock_filter[] program, byte[] p)
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
                default: throw new InvalidOperationException($"opcode 0x{ins.code:x} not interpreted");
            }
        }
        throw new InvalidOperationException("program fell off its end");
    }
}
