using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Kernel;

namespace LoadBalancer.Linux.Tests.Kernel;

/// <summary>Which of an interface's IPv6 addresses our neighbour solicitations come from, read as /proc/net/if_inet6
/// lists them.</summary>
public class LinkInfoTests
{
    private const string IfInet6 = """
        00000000000000000000000000000001 01 80 10 80       lo
        fe80000000000000000000fffe0000fe 03 40 20 80     eth0
        20010db8000000000000000000000002 03 40 00 80     eth0
        20010db8000000000000000000000099 03 40 00 c0     eth0
        fe800000000000000000000000000001 04 40 20 c0     eth1
        fe800000000000000000000000000002 04 40 20 80     eth1
        20010db8000000000000000000000003 05 40 00 c8     eth2
        """;

    [Fact]
    public void ChooseIpv6Address_GlobalBeforeLinkLocal_SkippingTentative()
    {
        Assert.Equal(Ipv6.Parse("2001:db8::2"), LinkInfo.ChooseIpv6Address(IfInet6, "eth0"));
        // eth1's first link-local address is still tentative (0x40).
        Assert.Equal(Ipv6.Parse("fe80::2"), LinkInfo.ChooseIpv6Address(IfInet6, "eth1"));
    }

    [Theory]
    [InlineData("eth2")] // its only address failed duplicate address detection
    [InlineData("eth9")] // no address at all
    [InlineData("eth")]  // a prefix of a name is not the name
    public void ChooseIpv6Address_NoUsableAddress_IsZero(string name)
    {
        Assert.Equal(UInt128.Zero, LinkInfo.ChooseIpv6Address(IfInet6, name));
    }
}
