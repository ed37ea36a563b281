using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.TestKit;

/// <summary>The shared world (<see cref="Fixtures"/>) with IPv6 beside IPv4: eth0 also at 2001:db8::2, and two IPv6
/// DR services on it next to the IPv4 ones: "web6" (2001:db8::100, one backend with a static MAC) and "dark6"
/// (2001:db8::102, one backend resolved by neighbour discovery). Neighbour discovery frames are written with the
/// engine's own writers, which NeighborDiscoveryPacketTests checks byte for byte against scapy.</summary>
public static class Ipv6Fixture
{
    public const string InterfaceIp = "2001:db8::2";
    public const string ClientIp = "2001:db8::10";
    public const string WebVip = "2001:db8::100";
    public const string WebBackendIp = "2001:db8:1::1";
    public static readonly MacAddress WebBackendMac = MacAddress.Parse("02:00:00:00:06:01");
    public const string DarkVip = "2001:db8::102";
    public const string DarkBackendIp = "2001:db8:3::1";

    public static readonly TestInterface Eth0 = new(Fixtures.InterfaceName, Fixtures.InterfaceMac, FrameBuilder.Ip(Fixtures.InterfaceIp), 1500, Ipv6.Parse(InterfaceIp));
    public static readonly IReadOnlyList<TestInterface> Interfaces = [Eth0];

    public static ServiceConfig Service(string name, string vip, params BackendConfig[] backends) =>
        Fixtures.Service(name, vip, 80, TransportProtocol.Tcp, backends);

    /// <summary><see cref="Fixtures.Config"/>'s services and web6, dark6.</summary>
    public static BalancerConfig Config()
    {
        var config = Fixtures.Config();
        return config with
        {
            Services =
            [
                .. config.Services,
                Service("web6", WebVip, Fixtures.Backend("web6-1", WebBackendIp, WebBackendMac)),
                Service("dark6", DarkVip, Fixtures.Backend("dark6-1", DarkBackendIp, null)),
            ],
        };
    }

    /// <summary>IPv6 services only (no ARP is needed on eth0 for them, but IPv4 still has its own thread).</summary>
    public static BalancerConfig OnlyIpv6() => Config() with { Services = [.. Config().Services.Where(s => s.IsIpv6)] };

    /// <summary>A solicitation for <paramref name="target"/> from <paramref name="source"/> at <paramref name="sourceMac"/>
    /// (its source link-layer option), to the target's solicited-node group.</summary>
    public static byte[] Solicitation(MacAddress sourceMac, string source, string target)
    {
        var frame = new byte[EthernetFrame.HeaderLength + NeighborDiscoveryPacket.PacketLength];
        var n = NeighborDiscoveryPacket.WriteSolicitationFrame(frame, sourceMac, Ipv6.Parse(source), Ipv6.Parse(target));
        return frame[..n];
    }

    /// <summary>An advertisement of <paramref name="target"/> at <paramref name="targetMac"/> from <paramref name="source"/>.</summary>
    public static byte[] Advertisement(MacAddress ethernetDestination, MacAddress ethernetSource, string source, string destination, string target,
        byte flags, MacAddress targetMac)
    {
        var frame = new byte[EthernetFrame.HeaderLength + NeighborDiscoveryPacket.PacketLength];
        NeighborDiscoveryPacket.WriteAdvertisementFrame(frame, ethernetDestination, ethernetSource, Ipv6.Parse(source), Ipv6.Parse(destination),
            Ipv6.Parse(target), flags, targetMac);
        return frame;
    }

    /// <summary>What a backend sends back to our solicitation: solicited, overriding, unicast to our MAC and address.</summary>
    public static byte[] AnswerToUs(string backendIp, MacAddress mac) =>
        Advertisement(Fixtures.InterfaceMac, mac, backendIp, InterfaceIp, backendIp,
            NeighborDiscoveryPacket.FlagSolicited | NeighborDiscoveryPacket.FlagOverride, mac);
}
