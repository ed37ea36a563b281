using System.Buffers.Binary;
using System.Globalization;

namespace LoadBalancer.Core.Packets;

/// <summary>A 48-bit Ethernet address held in the low bits of a ulong, so it can be stored and
/// published with one atomic 64-bit write (the neighbour table relies on that).</summary>
public readonly record struct MacAddress(ulong Value)
{
    public static readonly MacAddress Broadcast = new(0xFFFF_FFFF_FFFF);
    public static readonly MacAddress Zero = new(0);

    public bool IsZero => Value == 0;
    public bool IsMulticast => ((Value >> 40) & 1) != 0;

    public static MacAddress Read(ReadOnlySpan<byte> source) =>
        new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(source) << 32) | BinaryPrimitives.ReadUInt32BigEndian(source[2..]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)Value);
    }

    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null) return false;
        var parts = text.Split(':', '-');
        if (parts.Length != 6) return false;
        ulong value = 0;
        foreach (var part in parts)
        {
            if (part.Length is < 1 or > 2 || !byte.TryParse(part, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b)) return false;
            value = (value << 8) | b;
        }
        mac = new MacAddress(value);
        return true;
    }

    public static MacAddress Parse(string text) =>
        TryParse(text, out var mac) ? mac : throw new FormatException($"'{text}' is not a MAC address");

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[6];
        Write(b);
        return string.Create(CultureInfo.InvariantCulture, $"{b[0]:x2}:{b[1]:x2}:{b[2]:x2}:{b[3]:x2}:{b[4]:x2}:{b[5]:x2}");
    }
}
