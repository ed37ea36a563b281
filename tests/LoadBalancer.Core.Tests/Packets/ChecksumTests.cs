using System.Buffers.Binary;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Packets;

public class ChecksumTests
{
    [Fact]
    public void Add_Rfc1071Example_SumsToDdf2()
    {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum (with end-around carry) to ddf2.
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];

        Assert.Equal(0xDDF2, Checksum.Fold(Checksum.Add(data)));
        Assert.Equal(0x220D, Checksum.Compute(data));
    }

    [Fact]
    public void Compute_KnownIpv4Header_GivesB861()
    {
        // 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7: the textbook IPv4 header example.
        var header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");

        Assert.Equal(0xB861, Checksum.Compute(header));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0xB861);
        Assert.Equal(0, Checksum.Compute(header));
    }

    [Fact]
    public void Add_OddLength_PadsLastByteWithZero()
    {
        byte[] odd = [0x12, 0x34, 0x56];
        byte[] padded = [0x12, 0x34, 0x56, 0x00];

        Assert.Equal(Checksum.Fold(Checksum.Add(padded)), Checksum.Fold(Checksum.Add(odd)));
        Assert.Equal(0x6834, Checksum.Fold(Checksum.Add(odd)));
    }

    [Fact]
    public void Compute_EmptyAndAllZero_IsFfff()
    {
        Assert.Equal(0xFFFF, Checksum.Compute([]));
        Assert.Equal(0xFFFF, Checksum.Compute(new byte[10]));
    }

    [Fact]
    public void Add_ChainedPartialSums_EqualOneSumOverConcatenation()
    {
        var random = new Random(7);
        var data = new byte[1000];
        random.NextBytes(data);

        // Split at an even offset: RFC 1071 sums are associative across 16-bit-aligned pieces.
        var chained = Checksum.Add(data.AsSpan(500), Checksum.Add(data.AsSpan(0, 500)));

        Assert.Equal(Checksum.Fold(Checksum.Add(data)), Checksum.Fold(chained));
    }

    [Fact]
    public void Compute_RandomData_MatchesReferenceImplementation()
    {
        var random = new Random(1071);
        for (var i = 0; i < 2000; i++)
        {
            var data = new byte[random.Next(0, 1600)];
            random.NextBytes(data);
            var initial = (uint)random.Next();

            Assert.Equal(ReferenceChecksum.Compute(data, initial), Checksum.Compute(data, initial));
        }
    }

    [Fact]
    public void Compute_LargeAllOnesBuffer_DoesNotOverflow()
    {
        var data = new byte[65535];
        Array.Fill(data, (byte)0xFF);

        Assert.Equal(ReferenceChecksum.Compute(data), Checksum.Compute(data, 0xFFFF_FFFF));
        Assert.Equal(ReferenceChecksum.Compute(data, 0xFFFF_FFFF), Checksum.Compute(data, 0xFFFF_FFFF));
    }

    [Fact]
    public void PseudoHeaderSum_KnownAddresses_MatchesReference()
    {
        var source = FrameBuilder.Ip("192.168.0.1");
        var destination = FrameBuilder.Ip("10.255.0.7");

        var sum = Checksum.PseudoHeaderSum(source, destination, IpProtocols.Tcp, 1480);

        Assert.Equal(ReferenceChecksum.Sum([], ReferenceChecksum.PseudoHeader(source, destination, 6, 1480)), Checksum.Fold(sum));
    }

    [Fact]
    public void Update_Rfc1624Example_GivesZeroNotFfff()
    {
        // RFC 1624 section 4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285; eqn. 3 gives 0x0000 (eqn. 2 would give 0xFFFF).
        Assert.Equal(0x0000, Checksum.Update(0xDD2F, (ushort)0x5555, (ushort)0x3285));
    }

    [Fact]
    public void Update_RandomWordChanges_AgreesWithFullRecompute()
    {
        var random = new Random(1624);
        for (var i = 0; i < 5000; i++)
        {
            var data = new byte[2 * random.Next(2, 40)];
            random.NextBytes(data);
            data[0] |= 1; // never all zero: then +0 and -0 forms could legitimately differ
            var before = Checksum.Compute(data);
            var at = 2 * random.Next(1, data.Length / 2);
            var oldWord = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at));
            var newWord = (ushort)random.Next(0x10000);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(at), newWord);

            var incremental = Checksum.Update(before, oldWord, newWord);

            Assert.Equal(Checksum.Compute(data), incremental);
        }
    }

    [Fact]
    public void Update_RandomAddressChanges_AgreesWithFullRecompute()
    {
        var random = new Random(3022);
        for (var i = 0; i < 5000; i++)
        {
            var header = FrameBuilder.Tcp((uint)random.Next(), 1, (uint)random.Next(), 2).Ttl((byte)random.Next(1, 256)).Build()[14..34];
            var before = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10));
            var field = random.Next(2) == 0 ? 12 : 16;
            var oldAddress = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(field));
            var newAddress = (uint)random.NextInt64(0, 1L << 32);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(field), newAddress);

            var incremental = Checksum.Update(before, oldAddress, newAddress);

            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0);
            Assert.Equal(Checksum.Compute(header), incremental);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), incremental);
            Assert.True(ReferenceChecksum.Verifies(header));
        }
    }

    [Fact]
    public void Update_TtlDecrement_KeepsHeaderValid()
    {
        var header = FrameBuilder.Tcp("10.0.0.1", 1, "10.0.0.2", 2).Ttl(64).Build()[14..34];
        var checksum = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10));
        var oldWord = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(8));
        header[8]--;
        var newWord = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(8));

        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), Checksum.Update(checksum, oldWord, newWord));

        Assert.Equal(0, Checksum.Compute(header));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(1460)]
    public void CompletePartial_TcpWithPseudoHeaderSum_GivesCorrectChecksum(int payloadLength)
    {
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        var builder = FrameBuilder.Tcp("192.0.2.1", 40000, "10.0.0.100", 80).Payload(payload);
        var expected = builder.Clone().L4Checksum(ChecksumMode.Correct).Build();
        var frame = builder.L4Checksum(ChecksumMode.Partial).Build();

        Assert.True(Checksum.CompletePartial(frame, builder.L4Offset, 16, isUdp: false));

        Assert.Equal(expected, frame);
    }

    [Fact]
    public void CompletePartial_UdpSummingToZero_WritesFfff()
    {
        // Choose the last payload word so the whole sum is 0xFFFF: the computed checksum is then 0,
        // which UDP must send as 0xFFFF.
        var builder = FrameBuilder.Udp("192.0.2.1", 5353, "10.0.0.100", 53).Payload(1, 2, 3, 4, 0, 0).L4Checksum(ChecksumMode.Partial);
        var frame = builder.Build();
        var l4 = frame.AsSpan(builder.L4Offset);
        var rest = ReferenceChecksum.Sum(l4);
        BinaryPrimitives.WriteUInt16BigEndian(l4[(l4.Length - 2)..], (ushort)~rest);
        Assert.Equal(0, ReferenceChecksum.Compute(l4));

        Assert.True(Checksum.CompletePartial(frame, builder.L4Offset, 6, isUdp: true));

        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(l4[6..]));
        var pseudo = ReferenceChecksum.PseudoHeader(builder.SourceAddress, builder.DestinationAddress, 17, l4.Length);
        Assert.True(ReferenceChecksum.Verifies(l4, pseudo));
    }

    [Fact]
    public void CompletePartial_TcpSummingToZero_WritesZero()
    {
        var builder = FrameBuilder.Tcp("192.0.2.1", 5353, "10.0.0.100", 53).Payload(1, 2, 3, 4, 0, 0).L4Checksum(ChecksumMode.Partial);
        var frame = builder.Build();
        var l4 = frame.AsSpan(builder.L4Offset);
        BinaryPrimitives.WriteUInt16BigEndian(l4[(l4.Length - 2)..], (ushort)~ReferenceChecksum.Sum(l4));

        Assert.True(Checksum.CompletePartial(frame, builder.L4Offset, 16, isUdp: false));

        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(l4[16..]));
    }

    [Theory]
    [InlineData(-1, 16)]
    [InlineData(34, -1)]
    [InlineData(34, 40)]
    [InlineData(80, 0)]
    public void CompletePartial_OffsetsOutsideFrame_ReturnsFalseAndLeavesFrame(int start, int offset)
    {
        var frame = FrameBuilder.Tcp("192.0.2.1", 1, "10.0.0.100", 80).Payload("abcdef").L4Checksum(ChecksumMode.Partial).Build();
        var before = (byte[])frame.Clone();

        Assert.False(Checksum.CompletePartial(frame, start, offset, isUdp: false));

        Assert.Equal(before, frame);
    }
}
