using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Packet;

namespace LoadBalancer.Linux.Tests.Packet;

/// <summary>The ND socket's filter, run as the kernel runs it (<see cref="ClassicBpf"/>): solicitations and
/// advertisements reach the control plane, the engine's IPv6 data traffic does not.</summary>
public class NeighborDiscoverySocketTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("02:00:00:00:00:fe");
    private static readonly UInt128 Source = Ipv6.Parse("2001:db8::10");
    private static readonly UInt128 Vip = Ipv6.Parse("2001:db8::100");

    private static byte[] Solicitation()
    {
        var frame = new byte[86];
        NeighborDiscoveryPacket.WriteSolicitationFrame(frame, Mac, Source, Vip);
        return frame;
    }

    private static byte[] Advertisement()
    {
        var frame = new byte[86];
        NeighborDiscoveryPacket.WriteAdvertisementFrame(frame, Ipv6.AllNodesMac, Mac, Vip, Ipv6.AllNodes, Vip, NeighborDiscoveryPacket.FlagOverride, Mac);
        return frame;
    }

    private static uint Run(byte[] frame) => ClassicBpf.Run(NeighborDiscoverySocket.Filter(), frame);

    [Fact]
    public void Filter_SolicitationAndAdvertisement_AcceptedWhole()
    {
        Assert.Equal(uint.MaxValue, Run(Solicitation()));
        Assert.Equal(uint.MaxValue, Run(Advertisement()));
    }

    [Theory]
    [InlineData(128)] // echo request
    [InlineData(129)] // echo reply
    [InlineData(133)] // router solicitation
    [InlineData(134)] // router advertisement
    [InlineData(137)] // redirect
    [InlineData(1)]   // destination unreachable
    public void Filter_OtherIcmpv6_Dropped(byte type)
    {
        var frame = Solicitation();
        frame[54] = type;

        Assert.Equal(0u, Run(frame));
    }

    [Theory]
    [InlineData(6)]   // TCP to an IPv6 VIP: the data path's, never copied here
    [InlineData(17)]  // UDP
    [InlineData(0)]   // a hop-by-hop header first: not where a sender of RFC 4861 puts an NS
    public void Filter_NotIcmpv6StraightAfterTheHeader_Dropped(byte nextHeader)
    {
        var frame = Solicitation();
        frame[20] = nextHeader;

        Assert.Equal(0u, Run(frame));
    }

    [Fact]
    public void Filter_Ipv4OrTruncated_Dropped()
    {
        var ipv4 = Solicitation();
        ipv4[12] = 0x08;
        ipv4[13] = 0x00;

        Assert.Equal(0u, Run(ipv4));
        Assert.Equal(0u, Run(Solicitation()[..54]));
    }
}
