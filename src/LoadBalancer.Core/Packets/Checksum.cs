using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LoadBalancer.Core.Packets;

/// <summary>The Internet checksum (RFC 1071) and its incremental update (RFC 1624, eqn. 3).
/// Sums are kept as unfolded uints so partial sums can be chained before one final fold.</summary>
public static class Checksum
{
    /// <summary>Adds the bytes as big-endian 16-bit words to <paramref name="sum"/> (odd tail padded with zero).</summary>
    public static uint Add(ReadOnlySpan<byte> data, uint sum = 0)
    {
        ulong acc = sum;
        // Summing 32-bit big-endian words into a 64-bit accumulator is equivalent to summing 16-bit
        // words (end-around carry commutes), and is 2x fewer iterations.
        var words = MemoryMarshal.Cast<byte, uint>(data);
        foreach (var w in words)
            acc += BinaryPrimitives.ReverseEndianness(w);
        var i = words.Length * 4;
        if (data.Length - i >= 2)
        {
            acc += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
            i += 2;
        }
        if (i < data.Length)
            acc += (uint)data[i] << 8;
        return FoldTo32(acc);
    }

    public static uint Add(uint sum, uint value32)
    {
        ulong acc = (ulong)sum + (value32 >> 16) + (value32 & 0xFFFF);
        return FoldTo32(acc);
    }

    private static uint FoldTo32(ulong acc)
    {
        acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        return (uint)acc;
    }

    /// <summary>Folds a sum to 16 bits (without complementing).</summary>
    public static ushort Fold(uint sum)
    {
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The checksum to store: the complement of the folded sum. Over data that already holds
    /// a correct checksum it yields 0.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Fold(Add(data, initial));

    /// <summary>Sum of the IPv4 pseudo header for TCP/UDP.</summary>
    public static uint PseudoHeaderSum(uint source, uint destination, byte protocol, int length) =>
        Add(Add(Add(0, source), destination), ((uint)protocol << 16 | (uint)length) & 0xFFFF_FFFF);

    /// <summary>Sum of the IPv6 pseudo header (RFC 8200 8.1: source, destination, upper-layer length as 32 bits, next
    /// header) for TCP, UDP and ICMPv6, whose checksums all cover it.</summary>
    public static uint PseudoHeaderSum(UInt128 source, UInt128 destination, byte nextHeader, int length)
    {
        var sum = 0u;
        for (var i = 0; i < 4; i++)
        {
            sum = Add(sum, Ipv6.Word(source, i));
            sum = Add(sum, Ipv6.Word(destination, i));
        }
        return Add(Add(sum, (uint)length), nextHeader);
    }

    /// <summary>RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit word changed from m to m'.</summary>
    public static ushort Update(ushort checksum, ushort oldWord, ushort newWord)
    {
        uint sum = (uint)(ushort)~checksum + (ushort)~oldWord + newWord;
        return (ushort)~Fold(sum);
    }

    /// <summary>RFC 1624 for a 32-bit field (an IPv4 address) changed from old to new.</summary>
    public static ushort Update(ushort checksum, uint oldValue, uint newValue)
    {
        uint sum = (uint)(ushort)~checksum
                   + (ushort)~(oldValue >> 16) + (ushort)~(oldValue & 0xFFFF)
                   + (newValue >> 16) + (newValue & 0xFFFF);
        return (ushort)~Fold(sum);
    }

    /// <summary>Updates a <em>partial</em> L4 checksum field (CHECKSUM_PARTIAL, a GSO frame's NEEDS_CSUM): it
    /// holds the folded pseudo-header sum, not its complement, so a changed address is added in directly:
    /// P' = P + ~m + m'. Ports are not part of the pseudo header and need no change there.</summary>
    public static ushort UpdatePartial(ushort partial, uint oldValue, uint newValue)
    {
        uint sum = (uint)partial
                   + (ushort)~(oldValue >> 16) + (ushort)~(oldValue & 0xFFFF)
                   + (newValue >> 16) + (newValue & 0xFFFF);
        return Fold(sum);
    }

    /// <summary>Finishes a checksum the sender left partial (CHECKSUM_PARTIAL / TP_STATUS_CSUMNOTREADY):
    /// the field at <paramref name="start"/>+<paramref name="offset"/> already holds the folded pseudo-header
    /// sum, so summing from <paramref name="start"/> to the end and complementing completes it.</summary>
    public static bool CompletePartial(Span<byte> frame, int start, int offset, bool isUdp)
    {
        if (start < 0 || offset < 0 || start + offset + 2 > frame.Length) return false;
        var value = Compute(frame[start..]);
        // In UDP a computed 0 is sent as 0xFFFF, because 0 means "no checksum".
        if (isUdp && value == 0) value = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(frame[(start + offset)..], value);
        return true;
    }
}
