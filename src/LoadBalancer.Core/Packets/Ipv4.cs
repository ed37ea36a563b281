using System.Net;
using System.Net.Sockets;

namespace LoadBalancer.Core.Packets;

/// <summary>IPv4 addresses on the data path are plain uints in host order (10.0.0.1 = 0x0A000001),
/// read from the wire with one big-endian load; these helpers convert at the control-plane edge.</summary>
public static class Ipv4
{
    public static uint ToUInt32(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork) throw new ArgumentException($"{address} is not IPv4", nameof(address));
        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    public static IPAddress ToAddress(uint address)
    {
        Span<byte> b = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(b, address);
        return new IPAddress(b);
    }

    public static string Format(uint address) =>
        $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}";

    public static uint Parse(string text) => ToUInt32(IPAddress.Parse(text));
}
