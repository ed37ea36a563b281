using System.Buffers.Binary;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding;

/// <summary>Telling a local sender's partial checksum from the headers alone (the AF_XDP port, which the kernel does
/// not tell), and that completing a frame taken for partial by mistake changes nothing.</summary>
public class PartialChecksumTests
{
    [Theory]
    [InlineData(true, 0)]
    [InlineData(true, 1460)]
    [InlineData(false, 0)]
    [InlineData(false, 1000)]
    public void LooksPartial_PseudoHeaderSumInTheField_True_CompleteChecksum_False(bool tcp, int payloadLength)
    {
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        var builder = (tcp ? FrameBuilder.Tcp("192.0.2.1", 40000, "10.0.0.100", 80) : FrameBuilder.Udp("192.0.2.1", 40000, "10.0.0.100", 53)).Payload(payload);

        Assert.True(PartialChecksum.LooksPartial(builder.Clone().L4Checksum(ChecksumMode.Partial).Build()));
        Assert.False(PartialChecksum.LooksPartial(builder.Clone().L4Checksum(ChecksumMode.Correct).Build()));
    }

    [Fact]
    public void LooksPartial_UdpWithoutChecksum_Fragment_Short_NotIp_False()
    {
        Assert.False(PartialChecksum.LooksPartial(FrameBuilder.Udp("192.0.2.1", 40000, "10.0.0.100", 53).Payload(1, 2, 3).L4Checksum(ChecksumMode.Zero).Build()));
        Assert.False(PartialChecksum.LooksPartial(FrameBuilder.Udp("192.0.2.1", 40000, "10.0.0.100", 53).Payload(1, 2, 3).Fragment(true, 0).L4Checksum(ChecksumMode.Partial).Build()));
        Assert.False(PartialChecksum.LooksPartial(new byte[20]));
        Assert.False(PartialChecksum.LooksPartial(FrameBuilder.Tcp("192.0.2.1", 40000, "10.0.0.100", 80).L4Checksum(ChecksumMode.Partial).EtherType(0x0806).Build()));
    }

    [Fact]
    public void Complete_OnACompleteChecksumThatLooksPartial_LeavesTheFrameAsItWas()
    {
        // 1 complete checksum in 65,536 equals the pseudo-header's folded sum. Find one by trying every value of the
        // last two payload bytes, then complete it as if partial: the sum covers the field either way.
        var builder = FrameBuilder.Tcp("192.0.2.1", 40000, "10.0.0.100", 80).Payload(new byte[64]).L4Checksum(ChecksumMode.Correct);
        var frame = builder.Build();
        var l4 = builder.L4Offset;
        var pseudo = Checksum.PseudoHeaderSum(FrameBuilder.Ip("192.0.2.1"), FrameBuilder.Ip("10.0.0.100"), 6, frame.Length - l4);
        var found = false;
        for (var w = 0; w <= 0xFFFF && !found; w++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(frame.Length - 2), (ushort)w);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l4 + 16), 0);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l4 + 16), Checksum.Compute(frame.AsSpan(l4), pseudo));
            found = PartialChecksum.LooksPartial(frame);
        }
        Assert.True(found, "no payload gave a complete checksum equal to the pseudo-header sum");
        Assert.Equal(0, Checksum.Compute(frame.AsSpan(l4), pseudo)); // complete, and correct
        var before = frame.ToArray();
        var meta = new FrameMeta { ChecksumNotReady = true };

        Assert.True(PartialChecksum.Complete(ref meta, frame, l4, 16, isUdp: false));

        Assert.Equal(before, frame);
    }
}
