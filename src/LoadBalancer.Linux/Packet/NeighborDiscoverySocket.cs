using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>The control plane's neighbour discovery channel on one interface: an ETH_P_IPV6 packet socket whose
/// classic-BPF filter (attached before it is bound, so nothing else is ever queued to it) keeps only ICMPv6 neighbour
/// solicitations and advertisements (next header 58 straight after the fixed header, type 135 or 136): the engine's
/// IPv6 data traffic is never copied to it. An NS or NA behind an extension header is not seen (RFC 4861 senders
/// use none). The solicited-node groups of the VIPs are joined by the caller (<see cref="LinkSocket.JoinMulticast"/>).</summary>
public sealed unsafe class NeighborDiscoverySocket : LinkSocket
{
    // linux/filter.h opcodes
    private const ushort LdhAbs = 0x00 | 0x08 | 0x20;   // A = P[k] (16 bits)
    private const ushort LdbAbs = 0x00 | 0x10 | 0x20;   // A = P[k] (8 bits)
    private const ushort JeqK = 0x05 | 0x10;            // pc += A == k ? jt : jf
    private const ushort RetK = 0x06 | 0x00;            // return k

    // On a SOCK_RAW packet socket the filter sees the frame from its Ethernet header.
    private const uint EtherTypeOffset = 12;
    private const uint NextHeaderOffset = 14 + 6;
    private const uint Icmpv6TypeOffset = 14 + 40;

    private NeighborDiscoverySocket(PacketSocket socket) : base(socket)
    {
    }

    public static NeighborDiscoverySocket Open(string interfaceName) =>
        new(Open(interfaceName, PacketConstants.ETH_P_IPV6, socket => socket.AttachFilter(Filter())));

    /// <summary>Accept (the whole frame) or drop (0), as the kernel runs it.</summary>
    internal static sock_filter[] Filter() =>
    [
        new() { code = LdhAbs, k = EtherTypeOffset },
        new() { code = JeqK, k = 0x86DD, jt = 0, jf = 6 },
        new() { code = LdbAbs, k = NextHeaderOffset },
        new() { code = JeqK, k = 58, jt = 0, jf = 4 },
        new() { code = LdbAbs, k = Icmpv6TypeOffset },
        new() { code = JeqK, k = 135, jt = 1, jf = 0 },
        new() { code = JeqK, k = 136, jt = 0, jf = 1 },
        new() { code = RetK, k = uint.MaxValue },
        new() { code = RetK, k = 0 },
    ];
}
