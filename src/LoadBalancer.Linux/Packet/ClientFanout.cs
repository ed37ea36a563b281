using LoadBalancer.Core.Flows;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>The classic-BPF fanout program of every receive port in a group: it keys on the client's address and
/// port, read from the source on the client side and from the destination on a NAT backend side (NAT never changes
/// the client's address or port), so both directions of a NAT flow meet one worker. It computes
/// <see cref="WorkerFanout.Hash"/>, which has no per-host input: unlike PACKET_FANOUT_HASH (a per-boot random seed),
/// two balancers agree on which worker sees a flow, which state sync relies on. The kernel takes the result modulo
/// the group's size, and every worker joins its groups in the same order, so index i is worker i on every interface.
/// The program runs before the packet socket pushes the MAC header back: offsets are from the IPv4 header.
/// A frame that is not IPv4 TCP/UDP yields some index; the worker passes it or handles it like any other.</summary>
internal static unsafe class ClientFanout
{
    // linux/filter.h opcodes
    private const ushort LdxMsh = 0x01 | 0x10 | 0xa0;   // X = 4 * (P[k] & 0xf): the IPv4 header length
    private const ushort LdhInd = 0x00 | 0x08 | 0x40;   // A = P[X + k] (16 bits)
    private const ushort St = 0x02;                     // M[k] = A
    private const ushort LdAbs = 0x00 | 0x00 | 0x20;    // A = P[k] (32 bits)
    private const ushort LdxMem = 0x01 | 0x00 | 0x60;   // X = M[k]
    private const ushort XorX = 0x04 | 0xa0 | 0x08;     // A ^= X
    private const ushort Tax = 0x07;                    // X = A
    private const ushort RshK = 0x04 | 0x70;            // A >>= k
    private const ushort MulK = 0x04 | 0x20;            // A *= k
    private const ushort RetA = 0x06 | 0x10;            // return A

    internal static sock_filter[] Program(bool clientIsSource) =>
    [
        new() { code = LdxMsh, k = 0 },
        new() { code = LdhInd, k = clientIsSource ? 0u : 2u },     // client port
        new() { code = St, k = 0 },
        new() { code = LdAbs, k = clientIsSource ? 12u : 16u },    // client address
        new() { code = LdxMem, k = 0 },
        new() { code = XorX },
        // Spread neighbouring addresses and ports over the workers: a multiplicative hash, high bits down.
        new() { code = MulK, k = WorkerFanout.Multiplier },
        new() { code = Tax },
        new() { code = RshK, k = 16 },
        new() { code = XorX },
        new() { code = RetA },
    ];

    public static void Attach(PacketSocket socket, bool clientIsSource)
    {
        var program = Program(clientIsSource);
        fixed (sock_filter* p = program)
        {
            var fprog = new sock_fprog { len = (ushort)program.Length, filter = p };
            socket.SetOption(PacketConstants.PACKET_FANOUT_DATA, ref fprog, "PACKET_FANOUT_DATA");
        }
    }
}
