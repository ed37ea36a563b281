using System.Buffers.Binary;
using System.Net;
using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Packet;

namespace LoadBalancer.Linux.Tests.Packet;

/// <summary>The generator's frames, read back with the engine's header views; the UDP checksum is checked with a
/// plain RFC 1071 sum over a pseudo header laid out byte by byte here, not with the code that wrote it.</summary>
public class PacedSenderTests
{
    private static readonly MacAddress To = MacAddress.Parse("02:00:00:00:00:01");
    private static readonly MacAddress From = MacAddress.Parse("02:00:00:00:00:02");

    [Theory]
    [InlineData(PacedSender.SmallestIpv6Frame)]
    [InlineData(128)]
    [InlineData(PacedSender.LargestFrame)]
    public void BuildFrame_Ipv6_ParsesAsUdpOverIpv6_WithCorrectChecksum(int frameSize)
    {
        var (source, destination) = (IPAddress.Parse("2001:db8:3::2"), IPAddress.Parse("2001:db8:1::11"));
        var frame = new byte[frameSize - 4];

        PacedSender.BuildFrame(frame, To, From, source, destination, 10_007, 9);

        Assert.Equal(DropReason.None, EthernetFrame.TryParse(frame, out var ethernet));
        Assert.Equal((To, From, EtherTypes.Ipv6), (ethernet.Destination, ethernet.Source, ethernet.EtherType));
        Assert.Equal(DropReason.None, Ipv6Packet.TryParse(ethernet.Payload, out var ip));
        Assert.Equal(frameSize - 4 - EthernetFrame.HeaderLength, ip.TotalLength);
        Assert.Equal((IpProtocols.Udp, false, (byte)64), (ip.Protocol, ip.HasExtensionHeaders, ip.HopLimit));
        Assert.Equal((Ipv6.ToUInt128(source), Ipv6.ToUInt128(destination)), (ip.Source, ip.Destination));
        Assert.Equal(DropReason.None, UdpDatagram.TryParse(ip.Payload, out var udp));
        Assert.Equal(((ushort)10_007, (ushort)9, ip.TotalLength - Ipv6Packet.HeaderLength), (udp.SourcePort, udp.DestinationPort, (int)udp.Length));
        Assert.NotEqual(0, udp.Checksum);

        var pseudo = new byte[40];
        source.GetAddressBytes().CopyTo(pseudo, 0);
        destination.GetAddressBytes().CopyTo(pseudo, 16);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo.AsSpan(32), udp.Length);
        pseudo[39] = IpProtocols.Udp;
        Assert.Equal(0xFFFF, OnesComplementSum([.. pseudo, .. udp.Bytes[..udp.Length].ToArray()]));
    }

    [Theory]
    [InlineData(PacedSender.SmallestIpv4Frame)]
    [InlineData(PacedSender.LargestFrame)]
    public void BuildFrame_Ipv4_ParsesAsUdpOverIpv4_WithCorrectChecksums(int frameSize)
    {
        var (source, destination) = (IPAddress.Parse("10.99.3.2"), IPAddress.Parse("10.99.1.11"));
        var frame = new byte[frameSize - 4];

        PacedSender.BuildFrame(frame, To, From, source, destination, 10_007, 9);

        Assert.Equal(DropReason.None, EthernetFrame.TryParse(frame, out var ethernet));
        Assert.Equal(EtherTypes.Ipv4, ethernet.EtherType);
        var ip = ethernet.Payload;
        Assert.Equal(0xFFFF, OnesComplementSum(ip[..20].ToArray()));
        var udp = ip[20..];
        Assert.Equal(frameSize - 4 - 34, BinaryPrimitives.ReadUInt16BigEndian(udp[4..]));
        byte[] pseudo = [.. source.GetAddressBytes(), .. destination.GetAddressBytes(), 0, IpProtocols.Udp, (byte)(udp.Length >> 8), (byte)udp.Length];
        Assert.Equal(0xFFFF, OnesComplementSum([.. pseudo, .. udp.ToArray()]));
    }

    [Fact]
    public void Run_Ipv6FrameOf64Bytes_RefusedBeforeOpeningAnything()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PacedSender.Run(Options("2001:db8:3::2", "2001:db8::100", 64)));
        Assert.Contains($"{PacedSender.SmallestIpv6Frame}..{PacedSender.LargestFrame} for IPv6", e.Message);
    }

    [Fact]
    public void Run_DestinationOfOtherFamily_Refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PacedSender.Run(Options("10.99.3.2", "2001:db8::100", 128)));
        Assert.Contains("not of the source's family", e.Message);
    }

    private static PacedSenderOptions Options(string source, string destination, int frameSize) => new()
    {
        Interface = "lo", DestinationMac = To, Source = IPAddress.Parse(source), Destinations = [IPAddress.Parse(destination)],
        FrameSize = frameSize,
    };

    /// <summary>RFC 1071 by the book: 16-bit big-endian words, end-around carry; 0xFFFF over data holding its checksum.</summary>
    private static int OnesComplementSum(byte[] data)
    {
        var sum = 0;
        for (var i = 0; i < data.Length; i += 2)
        {
            sum += (data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0);
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return sum;
    }
}
