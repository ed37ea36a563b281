using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Kernel;

namespace LoadBalancer.Linux.Tests.Kernel;

public class IngressDropTests
{
    [Fact]
    public void Script_Ipv6Reply_DropsItsSourceAndPortExceptToTheHostsOwnIpv6Address()
    {
        var replies = new[]
        {
            new IngressDrop.Reply(Ipv4.Parse("10.99.4.11"), IpProtocols.Tcp, 80),
            new IngressDrop.Reply(0, IpProtocols.Udp, 5353) { Address6 = Ipv6.Parse("2001:db8:4::11") },
        };

        var script = IngressDrop.Script("lb_b1", "b1", [], replies, Ipv4.Parse("10.99.4.1"), [], Ipv6.Parse("2001:db8:4::1"));

        Assert.Contains("    ip saddr 10.99.4.11 ip daddr != 10.99.4.1 tcp sport 80 counter drop\n", script);
        Assert.Contains("    ip6 saddr 2001:db8:4::11 ip6 daddr != 2001:db8:4::1 udp sport 5353 counter drop\n", script);
        Assert.DoesNotContain("0.0.0.0", script);
    }

    [Fact]
    public void Script_Ipv6ReplyOnAnInterfaceWithoutIpv6Address_DropsEveryReply()
    {
        var reply = new IngressDrop.Reply(0, IpProtocols.Tcp, 8081) { Address6 = Ipv6.Parse("2001:db8:4::12") };

        var script = IngressDrop.Script("lb_b1", "b1", [], [reply], Ipv4.Parse("10.99.4.1"), [], 0);

        Assert.Contains("    ip6 saddr 2001:db8:4::12 tcp sport 8081 counter drop\n", script);
    }
}
