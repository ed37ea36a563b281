using LoadBalancer.Core.Flows;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>The classic-BPF fanout program of every receive port in a group: it keys on the client's address and
/// port, read from the source on the client side and from the destination on a NAT backend side (NAT never changes
/// the client's address or port), so both directions of a NAT flow meet one worker. An ICMP error is keyed on the
/// datagram it quotes, which went the other way: the quote's destination on the client side (an error about a reply
/// VIP:port → client), its source on the backend side (about a packet client → backend), so the error reaches the
/// worker holding its flow or session. It computes <see cref="WorkerFanout.Hash"/>, which has no per-host input:
/// unlike PACKET_FANOUT_HASH (a per-boot random seed), two balancers agree on which worker sees a flow, which state
/// sync relies on. The kernel takes the result modulo the group's size, and every worker joins its groups in the same
/// order, so index i is worker i on every interface. The program runs before the packet socket pushes the MAC header
/// back: offsets are from the IP header; a load past the end of the packet ends the program with 0 (worker 0).
/// IPv6 (version 6 in the first nibble) is keyed the same way on <see cref="WorkerFanout.Fold"/> of the client's
/// address (its four words XORed) and its port, read where they are when TCP/UDP follows the fixed header; with
/// extension headers the bytes read are another part of the header chain, still the same for every packet of the
/// flow, so the flow still stays on one worker. ICMPv6 errors are keyed on their quote as ICMP ones are.
/// A frame that is not TCP/UDP/ICMP yields some index; the worker passes it or handles it like any other.</summary>
internal static unsafe class ClientFanout
{
    // linux/filter.h opcodes
    private const ushort LdbAbs = 0x00 | 0x10 | 0x20;   // A = P[k] (8 bits)
    private const ushort LdbInd = 0x00 | 0x10 | 0x40;   // A = P[X + k] (8 bits)
    private const ushort LdxMsh = 0x01 | 0x10 | 0xa0;   // X = 4 * (P[k] & 0xf): the IPv4 header length
    private const ushort LdhInd = 0x00 | 0x08 | 0x40;   // A = P[X + k] (16 bits)
    private const ushort LdAbs = 0x00 | 0x00 | 0x20;    // A = P[k] (32 bits)
    private const ushort LdInd = 0x00 | 0x00 | 0x40;    // A = P[X + k] (32 bits)
    private const ushort St = 0x02;                     // M[k] = A
    private const ushort LdxMem = 0x01 | 0x00 | 0x60;   // X = M[k]
    private const ushort XorX = 0x04 | 0xa0 | 0x08;     // A ^= X
    private const ushort AddX = 0x04 | 0x00 | 0x08;     // A += X
    private const ushort AndK = 0x04 | 0x50;            // A &= k
    private const ushort LshK = 0x04 | 0x60;            // A <<= k
    private const ushort Tax = 0x07;                    // X = A
    private const ushort RshK = 0x04 | 0x70;            // A >>= k
    private const ushort MulK = 0x04 | 0x20;            // A *= k
    private const ushort JeqK = 0x05 | 0x10;            // pc += A == k ? jt : jf
    private const ushort RetA = 0x06 | 0x10;            // return A

    private const int IcmpHeaderLength = 8;
    private const int Ipv6HeaderLength = 40;
    private const ushort LdhAbs = 0x00 | 0x08 | 0x20;   // A = P[k] (16 bits)

    internal static sock_filter[] Program(bool clientIsSource)
    {
        // Quoted datagram offsets, from the start of the quote's IPv4 header.
        var quotedPort = clientIsSource ? 2u : 0u;
        var quotedAddress = clientIsSource ? 16u : 12u;
        sock_filter[] direct =
        [
            new() { code = LdxMsh, k = 0 },
            new() { code = LdhInd, k = clientIsSource ? 0u : 2u },     // client port
            new() { code = St, k = 0 },
            new() { code = LdAbs, k = clientIsSource ? 12u : 16u },    // client address
            new() { code = LdxMem, k = 0 },
            new() { code = XorX },
        ];
        sock_filter[] icmpError =
        [
            new() { code = LdxMsh, k = 0 },
            new() { code = LdbInd, k = IcmpHeaderLength },             // the quote's version and header length
            new() { code = AndK, k = 0xf },
            new() { code = LshK, k = 2 },
            new() { code = AddX },
            new() { code = Tax },                                      // X = outer + quoted header lengths
            new() { code = LdhInd, k = IcmpHeaderLength + quotedPort },
            new() { code = St, k = 0 },
            new() { code = LdxMsh, k = 0 },
            new() { code = LdInd, k = IcmpHeaderLength + quotedAddress },
            new() { code = LdxMem, k = 0 },
            new() { code = XorX },
        ];
        // Spread neighbouring addresses and ports over the workers: a multiplicative hash, high bits down. Written
        // twice: classic BPF only jumps forward.
        sock_filter[] hash =
        [
            new() { code = MulK, k = WorkerFanout.Multiplier },
            new() { code = Tax },
            new() { code = RshK, k = 16 },
            new() { code = XorX },
            new() { code = RetA },
        ];
        sock_filter[] head4 =
        [
            new() { code = LdbAbs, k = 9 },                            // protocol
            new() { code = JeqK, k = 1, jt = (byte)(direct.Length + hash.Length), jf = 0 },
        ];
        sock_filter[] ipv4 = [.. head4, .. direct, .. hash, .. icmpError, .. hash];

        // IPv6: the client's address at 8 (source) or 24 (destination), its port at 40 or 42; in an ICMPv6 error, the
        // quote (after the 8-byte ICMPv6 header) went the other way: its destination on the client side, its source
        // on the backend side.
        var direct6 = Ipv6Key(portOffset: clientIsSource ? 40u : 42u, addressOffset: clientIsSource ? 8u : 24u);
        const uint quote = Ipv6HeaderLength + IcmpHeaderLength;
        var icmp6 = Ipv6Key(portOffset: quote + (clientIsSource ? 42u : 40u), addressOffset: quote + (clientIsSource ? 24u : 8u));
        sock_filter[] head6 =
        [
            new() { code = LdbAbs, k = 6 },                            // next header
            new() { code = JeqK, k = 58, jt = (byte)(direct6.Length + hash.Length), jf = 0 },
        ];
        sock_filter[] ipv6 = [.. head6, .. direct6, .. hash, .. icmp6, .. hash];

        sock_filter[] version =
        [
            new() { code = LdbAbs, k = 0 },
            new() { code = RshK, k = 4 },
            new() { code = JeqK, k = 6, jt = (byte)ipv4.Length, jf = 0 },
        ];
        return [.. version, .. ipv4, .. ipv6];
    }

    /// <summary>A = fold(address at <paramref name="addressOffset"/>) ^ port at <paramref name="portOffset"/>.</summary>
    private static sock_filter[] Ipv6Key(uint portOffset, uint addressOffset) =>
    [
        new() { code = LdhAbs, k = portOffset },
        new() { code = St, k = 0 },
        new() { code = LdAbs, k = addressOffset },
        new() { code = Tax },
        new() { code = LdAbs, k = addressOffset + 4 },
        new() { code = XorX },
        new() { code = Tax },
        new() { code = LdAbs, k = addressOffset + 8 },
        new() { code = XorX },
        new() { code = Tax },
        new() { code = LdAbs, k = addressOffset + 12 },
        new() { code = XorX },
        new() { code = LdxMem, k = 0 },
        new() { code = XorX },
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
