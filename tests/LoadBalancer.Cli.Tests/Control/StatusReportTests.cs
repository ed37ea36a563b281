using System.Text.Json;
using LoadBalancer.Cli.Control;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Control;

/// <summary><c>lb status --json</c>'s frame counters: neighbour discovery's beside ARP's, summed over interfaces.</summary>
public sealed class StatusReportTests
{
    [Fact]
    public void Json_Frames_CountNeighborDiscoveryBesideArp()
    {
        var engine = new TestEngine(Ipv6Fixture.Config(), Ipv6Fixture.Interfaces);
        engine.HandleNd(Ipv6Fixture.Solicitation(Fixtures.ClientMac, Ipv6Fixture.ClientIp, Ipv6Fixture.WebVip));
        engine.HandleNd(Ipv6Fixture.Solicitation(Fixtures.ClientMac, Ipv6Fixture.ClientIp, Ipv6Fixture.DarkVip), claimsVips: false);
        engine.AnswerNd(Ipv6Fixture.DarkBackendIp, Core.Packets.MacAddress.Parse("02:00:00:00:03:01"));
        // A second answer to the one solicitation, with another MAC: refused.
        engine.HandleNd(Ipv6Fixture.AnswerToUs(Ipv6Fixture.DarkBackendIp, Core.Packets.MacAddress.Parse("02:66:66:66:66:66")));
        var routed = Ipv6Fixture.Solicitation(Fixtures.ClientMac, Ipv6Fixture.ClientIp, Ipv6Fixture.WebVip);
        routed[14 + 7] = 64;
        engine.HandleNd(routed);

        using var doc = JsonDocument.Parse(StatusReport.Json(engine.Engine));
        var frames = doc.RootElement.GetProperty("frames");

        Assert.Equal(1, frames.GetProperty("nd_advertisements").GetInt64());
        Assert.Equal(1, frames.GetProperty("nd_solicitations_not_claimed").GetInt64());
        Assert.Equal(1, frames.GetProperty("nd_refused").GetInt64());
        Assert.Equal(1, frames.GetProperty("nd_malformed").GetInt64());
        Assert.Equal(0, frames.GetProperty("arp_replies").GetInt64());
    }

    [Fact]
    public void Json_AllIpv4_NeighborDiscoveryCountersAreZero()
    {
        var engine = new TestEngine(Fixtures.Config());

        using var doc = JsonDocument.Parse(StatusReport.Json(engine.Engine));

        Assert.Equal(0, doc.RootElement.GetProperty("frames").GetProperty("nd_advertisements").GetInt64());
    }
}
