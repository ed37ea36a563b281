using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace LoadBalancer.Core.Flows;

/// <summary>Bob Jenkins' lookup3 hash (2006, public domain), written from the published description.
/// It is the hash the Linux kernel calls jhash, the one nftables' <c>jhash</c> and the old CLUSTERIP
/// target used, so operators can reason about it with tools they know. <see cref="HashLittle"/> matches
/// lookup3's <c>hashlittle()</c> and its published vectors; <see cref="HashWords(uint,uint,uint,uint)"/>
/// matches <c>hashword()</c> / the kernel's <c>jhash2</c> / <c>jhash_3words</c>.</summary>
public static class Lookup3
{
    private const uint InitialValue = 0xDEADBEEF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c; a ^= BitOperations.RotateLeft(c, 4); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 6); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 8); b += a;
        a -= c; a ^= BitOperations.RotateLeft(c, 16); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 19); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 4); b += a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Final(uint a, uint b, uint c)
    {
        c ^= b; c -= BitOperations.RotateLeft(b, 14);
        a ^= c; a -= BitOperations.RotateLeft(c, 11);
        b ^= a; b -= BitOperations.RotateLeft(a, 25);
        c ^= b; c -= BitOperations.RotateLeft(b, 16);
        a ^= c; a -= BitOperations.RotateLeft(c, 4);
        b ^= a; b -= BitOperations.RotateLeft(a, 14);
        c ^= b; c -= BitOperations.RotateLeft(b, 24);
        return c;
    }

    /// <summary>lookup3 <c>hashlittle(key, length, initval)</c>: bytes read as little-endian words.</summary>
    public static uint HashLittle(ReadOnlySpan<byte> key, uint initval)
    {
        uint a, b, c;
        a = b = c = InitialValue + (uint)key.Length + initval;
        var length = key.Length;
        var k = key;
        while (length > 12)
        {
            a += BinaryPrimitives.ReadUInt32LittleEndian(k);
            b += BinaryPrimitives.ReadUInt32LittleEndian(k[4..]);
            c += BinaryPrimitives.ReadUInt32LittleEndian(k[8..]);
            Mix(ref a, ref b, ref c);
            length -= 12;
            k = k[12..];
        }
        if (length == 0) return c;
        // The tail (1..12 bytes) is added as if zero-padded to 12 bytes.
        Span<byte> tail = stackalloc byte[12];
        tail.Clear();
        k[..length].CopyTo(tail);
        a += BinaryPrimitives.ReadUInt32LittleEndian(tail);
        b += BinaryPrimitives.ReadUInt32LittleEndian(tail[4..]);
        c += BinaryPrimitives.ReadUInt32LittleEndian(tail[8..]);
        return Final(a, b, c);
    }

    /// <summary>lookup3 <c>hashword(k, length, initval)</c> over 32-bit words.</summary>
    public static uint HashWords(ReadOnlySpan<uint> key, uint initval)
    {
        uint a, b, c;
        a = b = c = InitialValue + ((uint)key.Length << 2) + initval;
        var k = key;
        while (k.Length > 3)
        {
            a += k[0]; b += k[1]; c += k[2];
            Mix(ref a, ref b, ref c);
            k = k[3..];
        }
        switch (k.Length)
        {
            case 3: c += k[2]; goto case 2;
            case 2: b += k[1]; goto case 1;
            case 1: a += k[0]; return Final(a, b, c);
            default: return c;
        }
    }

    /// <summary><c>hashword</c> of exactly one word (no span, for the hot path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HashWords(uint w0, uint initval)
    {
        uint a = InitialValue + 4 + initval, b = a, c = a;
        a += w0;
        return Final(a, b, c);
    }

    /// <summary><c>hashword</c> of exactly two words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HashWords(uint w0, uint w1, uint initval)
    {
        uint a = InitialValue + 8 + initval, b = a, c = a;
        a += w0; b += w1;
        return Final(a, b, c);
    }

    /// <summary><c>hashword</c> of exactly three words (the kernel's <c>jhash_3words</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HashWords(uint w0, uint w1, uint w2, uint initval)
    {
        uint a = InitialValue + 12 + initval, b = a, c = a;
        a += w0; b += w1; c += w2;
        return Final(a, b, c);
    }

    /// <summary><c>hashword</c> of exactly four words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HashWords(uint w0, uint w1, uint w2, uint w3, uint initval)
    {
        uint a = InitialValue + 16 + initval, b = a, c = a;
        a += w0; b += w1; c += w2;
        Mix(ref a, ref b, ref c);
        a += w3;
        return Final(a, b, c);
    }

    /// <summary><c>hashword</c> of exactly five words: the CLUSTERIP ownership hash of an IPv6 client (its address as four
    /// words and one word of ports, <see cref="Forwarding.ClusterIp.ClusterFlowHash.Compute6"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HashWords(uint w0, uint w1, uint w2, uint w3, uint w4, uint initval)
    {
        uint a = InitialValue + 20 + initval, b = a, c = a;
        a += w0; b += w1; c += w2;
        Mix(ref a, ref b, ref c);
        a += w3; b += w4;
        return Final(a, b, c);
    }

    /// <summary><c>hashword</c> of exactly ten words: an IPv6 flow's two addresses (four words each), ports and
    /// protocol (<see cref="FlowHash.Compute6(byte, UInt128, UInt128, ushort, ushort, uint)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HashWords(UInt128 w0123, UInt128 w4567, uint w8, uint w9, uint initval)
    {
        uint a = InitialValue + 40 + initval, b = a, c = a;
        a += (uint)(w0123 >> 96); b += (uint)(w0123 >> 64); c += (uint)(w0123 >> 32);
        Mix(ref a, ref b, ref c);
        a += (uint)w0123; b += (uint)(w4567 >> 96); c += (uint)(w4567 >> 64);
        Mix(ref a, ref b, ref c);
        a += (uint)(w4567 >> 32); b += (uint)w4567; c += w8;
        Mix(ref a, ref b, ref c);
        a += w9;
        return Final(a, b, c);
    }
}
