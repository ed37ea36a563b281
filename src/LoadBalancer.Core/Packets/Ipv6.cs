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

    /// <summary>The four 32-bit words of the address, most significant first (as they are on the wire): what the
    /// flow hash takes.</summary>
    public static uint Word(UInt128 address, int index) => (uint)(address >> (96 - 32 * index));
}
