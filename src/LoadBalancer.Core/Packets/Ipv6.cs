using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace LoadBalancer.Core.Packets;

/// <summary>IPv6 addresses on the data path are <see cref="UInt128"/> values in host order (the address read from
/// the wire with one big-endian load: 2001:db8::1 = 0x20010db8_00000000_00000000_00000001), compared and hashed
/// in registers; these helpers convert at the control-plane edge.</summary>
public static class Ipv6
{
    public const int AddressLength = 16;

    public static UInt128 ToUInt128(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6) throw new ArgumentException($"{address} is not IPv6", nameof(address));
        Span<byte> b = stackalloc byte[AddressLength];
        address.TryWriteBytes(b, out _);
        return BinaryPrimitives.ReadUInt128BigEndian(b);
    }

    public static IPAddress ToAddress(UInt128 address)
    {
        Span<byte> b = stackalloc byte[AddressLength];
        BinaryPrimitives.WriteUInt128BigEndian(b, address);
        return new IPAddress(b);
    }

    public static string Format(UInt128 address) => ToAddress(address).ToString();

    public static UInt128 Parse(string text) => ToUInt128(IPAddress.Parse(text));

    public static UInt128 Read(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt128BigEndian(bytes);

    public static void Write(Span<byte> bytes, UInt128 address) => BinaryPrimitives.WriteUInt128BigEndian(bytes, address);

    /// <summary>ff02::1, every node on the link: where unsolicited neighbour advertisements go.</summary>
    public static readonly UInt128 AllNodes = new(0xff02_0000_0000_0000, 1);
    /// <summary>33:33:00:00:00:01, the Ethernet group of <see cref="AllNodes"/>.</summary>
    public static readonly MacAddress AllNodesMac = MulticastMac(AllNodes);

    // ff02::1:ff00:0/104 (RFC 4291 2.7.1): the low 24 bits are the solicited address's.
    private static readonly UInt128 SolicitedNodePrefix = new(0xff02_0000_0000_0000, 0x0000_0001_ff00_0000);
    private static readonly UInt128 Low24 = 0xFF_FFFF;

    /// <summary>ff00::/8.</summary>
    public static bool IsMulticast(UInt128 address) => (address >> 120) == 0xFF;

    /// <summary>The solicited-node multicast address of <paramref name="address"/>: ff02::1:ffXX:XXXX with its low 24
    /// bits, where a neighbour solicitation for it is sent and every host holding it listens.</summary>
    public static UInt128 SolicitedNode(UInt128 address) => SolicitedNodePrefix | (address & Low24);

    public static bool IsSolicitedNode(UInt128 address) => (address & ~Low24) == SolicitedNodePrefix;

    /// <summary>The Ethernet group of an IPv6 multicast address (RFC 2464 7): 33:33 and its low 32 bits.</summary>
    public static MacAddress MulticastMac(UInt128 group) => new(0x3333_0000_0000UL | (uint)group);

    /// <summary>The four 32-bit words of the address, most significant first (as they are on the wire): what the
    /// flow hash takes.</summary>
    public static uint Word(UInt128 address, int index) => (uint)(address >> (96 - 32 * index));
}
