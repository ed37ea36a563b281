namespace LoadBalancer.TestKit;

/// <summary>A deliberately plain Internet checksum (RFC 1071: 16-bit big-endian words, end-around carry),
/// written independently of <c>LoadBalancer.Core.Packets.Checksum</c> so tests can check one against the other
/// and the frame builder does not depend on the code under test.</summary>
public static class ReferenceChecksum
{
    /// <summary>One's complement sum of the data as 16-bit big-endian words, folded to 16 bits (not complemented).</summary>
    public static ushort Sum(ReadOnlySpan<byte> data, ulong initial = 0)
    {
        var sum = initial;
        var i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += (ulong)((data[i] << 8) | data[i + 1]);
        if (i < data.Length)
            sum += (ulong)(data[i] << 8);
        while ((sum >> 16) != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The value to store in a checksum field: the complement of <see cref="Sum"/>.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, ulong initial = 0) => (ushort)~Sum(data, initial);

    /// <summary>Unfolded sum of the IPv4 pseudo header (source, destination, zero, protocol, L4 length).</summary>
    public static ulong PseudoHeader(uint source, uint destination, byte protocol, int l4Length) =>
        (source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF) + protocol + (ulong)l4Length;

    /// <summary>Rewrites the ICMPv6 checksum of an untagged Ethernet/IPv6 frame whose ICMPv6 message follows the fixed
    /// header (a test changed the message and wants only that change to be wrong); returns the frame.</summary>
    public static byte[] ResumIcmpv6(byte[] frame)
    {
        var length = (frame[18] << 8) | frame[19];
        var message = frame.AsSpan(54, length);
        message[2] = message[3] = 0;
        var pseudo = (ulong)Sum(frame.AsSpan(22, 32)) + (ulong)length + 58;
        var sum = Compute(message, pseudo);
        message[2] = (byte)(sum >> 8);
        message[3] = (byte)sum;
        return frame;
    }

    /// <summary>True when data that includes its checksum field sums to 0xFFFF (i.e. verifies).</summary>
    public static bool Verifies(ReadOnlySpan<byte> data, ulong initial = 0) => Sum(data, initial) == 0xFFFF;
}
