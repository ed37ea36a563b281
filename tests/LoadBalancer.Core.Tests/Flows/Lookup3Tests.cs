using System.Buffers.Binary;
using System.Text;
using LoadBalancer.Core.Flows;

namespace LoadBalancer.Core.Tests.Flows;

public class Lookup3Tests
{
    // The vectors printed by lookup3.c's driver5() (the same ones numcodecs' jenkins tests check).
    [Theory]
    [InlineData("", 0u, 0xDEADBEEFu)]
    [InlineData("", 0xDEADBEEFu, 0xBD5B7DDEu)]
    [InlineData("Four score and seven years ago", 0u, 0x17770551u)]
    [InlineData("Four score and seven years ago", 1u, 0xCD628161u)]
    public void HashLittle_PublishedVectors_Match(string text, uint initval, uint expected)
    {
        Assert.Equal(expected, Lookup3.HashLittle(Encoding.ASCII.GetBytes(text), initval));
    }

    [Fact]
    public void HashLittle_EveryLengthUpTo40_DependsOnEveryByte()
    {
        // Changing any one byte of any key length changes the hash: the tail handling reads all of it.
        var random = new Random(3);
        for (var length = 1; length <= 40; length++)
        {
            var key = new byte[length];
            random.NextBytes(key);
            var h = Lookup3.HashLittle(key, 0);
            for (var i = 0; i < length; i++)
            {
                key[i] ^= 0x01;
                Assert.NotEqual(h, Lookup3.HashLittle(key, 0));
                key[i] ^= 0x01;
            }
        }
    }

    [Fact]
    public void HashLittle_TrailingZeroByte_ChangesHash()
    {
        // The length is mixed in, so zero padding is not the same key.
        Assert.NotEqual(Lookup3.HashLittle([1, 2, 3], 0), Lookup3.HashLittle([1, 2, 3, 0], 0));
    }

    [Fact]
    public void HashWords_Empty_ReturnsInitialState()
    {
        Assert.Equal(0xDEADBEEFu, Lookup3.HashWords(ReadOnlySpan<uint>.Empty, 0));
        Assert.Equal(0xDEADBEEFu + 7u, Lookup3.HashWords(ReadOnlySpan<uint>.Empty, 7));
    }

    [Fact]
    public void HashWords_FixedArityOverloads_EqualSpanVersion()
    {
        var random = new Random(4);
        for (var i = 0; i < 1000; i++)
        {
            uint w0 = (uint)random.NextInt64(1L << 32), w1 = (uint)random.NextInt64(1L << 32),
                w2 = (uint)random.NextInt64(1L << 32), w3 = (uint)random.NextInt64(1L << 32),
                seed = (uint)random.NextInt64(1L << 32);

            Assert.Equal(Lookup3.HashWords([w0], seed), Lookup3.HashWords(w0, seed));
            Assert.Equal(Lookup3.HashWords([w0, w1], seed), Lookup3.HashWords(w0, w1, seed));
            Assert.Equal(Lookup3.HashWords([w0, w1, w2], seed), Lookup3.HashWords(w0, w1, w2, seed));
            Assert.Equal(Lookup3.HashWords([w0, w1, w2, w3], seed), Lookup3.HashWords(w0, w1, w2, w3, seed));
        }
    }

    [Fact]
    public void HashWords_TenWords_EqualsSpanVersionOverTheDocumentedWords()
    {
        // The IPv6 flow hash's input, as modes.md documents it: each address as four words, most significant first.
        var random = new Random(5);
        for (var i = 0; i < 1000; i++)
        {
            var words = new uint[10];
            for (var w = 0; w < words.Length; w++) words[w] = (uint)random.NextInt64(1L << 32);
            words[9] &= 0xFF; // the protocol
            var seed = (uint)random.NextInt64(1L << 32);
            var source = ((UInt128)words[0] << 96) | ((UInt128)words[1] << 64) | ((UInt128)words[2] << 32) | words[3];
            var destination = ((UInt128)words[4] << 96) | ((UInt128)words[5] << 64) | ((UInt128)words[6] << 32) | words[7];

            Assert.Equal(Lookup3.HashWords(words, seed), Lookup3.HashWords(source, destination, words[8], words[9], seed));
            Assert.Equal(Lookup3.HashWords(words, seed), FlowHash.Compute6((byte)words[9], source, destination, (ushort)(words[8] >> 16), (ushort)words[8], seed));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(7)]
    public void HashWords_Words_EqualHashLittleOverLittleEndianBytes(int count)
    {
        // hashword(k, n, iv) == hashlittle(bytes of k in little-endian order, 4n, iv): same init, same mixing.
        var random = new Random(count);
        for (var i = 0; i < 200; i++)
        {
            var words = new uint[count];
            for (var w = 0; w < count; w++) words[w] = (uint)random.NextInt64(1L << 32);
            var bytes = new byte[count * 4];
            for (var w = 0; w < count; w++) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(w * 4), words[w]);
            var seed = (uint)random.NextInt64(1L << 32);

            Assert.Equal(Lookup3.HashLittle(bytes, seed), Lookup3.HashWords(words, seed));
        }
    }
}

public class FlowHashTests
{
    private static readonly FlowKey Key = new(6, 0xC000020A, 0x0A000064, 40000, 80);

    [Fact]
    public void Compute_SameKeyAndSeed_IsDeterministic()
    {
        Assert.Equal(FlowHash.Compute(Key, 0x5EED), FlowHash.Compute(new FlowKey(6, 0xC000020A, 0x0A000064, 40000, 80), 0x5EED));
    }

    [Fact]
    public void Compute_KnownKey_IsHashwordOfFourWords()
    {
        var expected = Lookup3.HashWords([0xC000020Au, 0x0A000064u, (40000u << 16) | 80u, 6u], 0x5EED);

        Assert.Equal(expected, FlowHash.Compute(Key, 0x5EED));
    }

    [Fact]
    public void Compute_DifferentSeed_ChangesHash()
    {
        var seeds = new HashSet<uint>();
        for (uint seed = 0; seed < 100; seed++) seeds.Add(FlowHash.Compute(Key, seed));

        Assert.Equal(100, seeds.Count);
    }

    [Fact]
    public void Compute_EachFieldChange_ChangesHash()
    {
        var h = FlowHash.Compute(Key, 1);

        Assert.NotEqual(h, FlowHash.Compute(Key with { Protocol = 17 }, 1));
        Assert.NotEqual(h, FlowHash.Compute(Key with { SourceAddress = Key.SourceAddress + 1 }, 1));
        Assert.NotEqual(h, FlowHash.Compute(Key with { DestinationAddress = Key.DestinationAddress + 1 }, 1));
        Assert.NotEqual(h, FlowHash.Compute(Key with { SourcePort = 40001 }, 1));
        Assert.NotEqual(h, FlowHash.Compute(Key with { DestinationPort = 81 }, 1));
        // Swapping the direction is a different flow.
        Assert.NotEqual(h, FlowHash.Compute(new FlowKey(6, Key.DestinationAddress, Key.SourceAddress, 80, 40000), 1));
    }

    [Fact]
    public void FlowKeyToString_TcpKey_IsReadable()
    {
        Assert.Equal("tcp 192.0.2.10:40000 -> 10.0.0.100:80", Key.ToString());
        Assert.Equal("udp 192.0.2.10:40000 -> 10.0.0.100:80", (Key with { Protocol = 17 }).ToString());
    }
}
