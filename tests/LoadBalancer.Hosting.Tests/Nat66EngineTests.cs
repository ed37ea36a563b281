using System.Net;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests;

/// <summary>What the engine needs for NAT66 beyond the data path: the workers' IPv6 session tables (made at start),
/// an IPv6 address on an interface whose neighbours are solicited, and the backend side's ingress drop.</summary>
public class Nat66EngineTests
{
    private const string Vip = "2001:db8::100";
    private const string Rs1 = "2001:db8:4::11";
    private const string BackAddress = "2001:db8:4::1";
    private static readonly MacAddress Rs1Mac = MacAddress.Parse("02:00:00:00:04:11");

    private static IReadOnlyList<TestInterface> Interfaces(bool backAddress6 = true) =>
    [
        Fixtures.NatInterfaces[0] with { Address6 = Ipv6.Parse("2001:db8:1::10") },
        Fixtures.NatInterfaces[1] with { Address6 = backAddress6 ? Ipv6.Parse(BackAddress) : 0 },
    ];

    private static ServiceConfig Service(string name, string vip, TransportProtocol protocol, ForwardingMode mode, params BackendConfig[] backends) => new()
    {
        Name = name, Vip = IPAddress.Parse(vip), Port = 80, Protocol = protocol, Mode = mode, Interface = "front",
        BackendInterface = "back", Line = 12, Backends = backends,
    };

    private static BackendConfig Backend(string name, string address, MacAddress? mac, ushort? port = null) =>
        new() { Name = name, Address = IPAddress.Parse(address), Mac = mac, Port = port, Line = 14 };

    private static ServiceConfig Web6(MacAddress? mac = null) =>
        Service("web6", Vip, TransportProtocol.Tcp, ForwardingMode.Nat, Backend("rs1", Rs1, mac ?? Rs1Mac, 8081));

    private static ServiceConfig Web4() =>
        Service("web", "10.99.0.100", TransportProtocol.Tcp, ForwardingMode.Nat, Backend("rs1", "10.99.4.11", Rs1Mac));

    [Fact]
    public void Reload_FirstIpv6NatServiceOnAnEngineStartedWithout_RefusedNeedsARestart()
    {
        // IPv6 is served already (a DR6 service on front), so only the session tables are missing.
        var dr6 = Service("dr6", "2001:db8::101", TransportProtocol.Tcp, ForwardingMode.DirectRouting, Backend("d1", "2001:db8:4::21", Rs1Mac));
        var engine = new TestEngine(new BalancerConfig { Services = [Web4(), dr6] }, Interfaces());
        var before = engine.State.Current;

        var result = engine.Engine.Reload(engine.Config with { Services = [.. engine.Config.Services, Web6()] });

        Assert.False(result.Ok);
        Assert.Contains(result.Refusals, r => r.Line == 12 && r.Message ==
            "service web6: the engine's first IPv6 NAT service needs a restart (the workers' IPv6 session tables are made at start)");
        Assert.Same(before, engine.State.Current);
    }

    [Fact]
    public void Reload_AnotherIpv6NatService_Applies()
    {
        var engine = new TestEngine(new BalancerConfig { Services = [Web4(), Web6()] }, Interfaces());
        var echo6 = Service("echo6", Vip, TransportProtocol.Udp, ForwardingMode.Nat, Backend("e1", Rs1, Rs1Mac)) with { Port = 5353 };

        var result = engine.Engine.Reload(engine.Config with { Services = [.. engine.Config.Services, echo6] });

        Assert.True(result.Ok, string.Join("; ", result.Refusals.Select(r => r.Message)));
    }

    [Fact]
    public void Build_Ipv6BackendToSolicitThroughAnInterfaceWithoutIpv6_RefusedNamingItsLine()
    {
        var config = new BalancerConfig { Services = [Web6(mac: null) with { Backends = [Backend("rs1", Rs1, null)] }] };

        var e = Assert.Throws<InvalidOperationException>(() => new TestEngine(config, Interfaces(backAddress6: false)));

        Assert.Equal("line 14: service web6: backend rs1 (2001:db8:4::11) is reached through back, which has no IPv6 address to solicit " +
                     "its MAC from: give back one (a link-local one will do) or the backend a mac:", e.Message);
    }

    [Fact]
    public void Build_Ipv6GatewayThroughAnInterfaceWithoutIpv6_RefusedNamingItsLine()
    {
        var interfaces = new[] { Fixtures.NatInterfaces[0], Interfaces()[1] };
        var config = new BalancerConfig
        {
            Services = [Web6() with { Gateway = IPAddress.Parse("2001:db8:1::1"), KeyLines = new Dictionary<string, int> { ["gateway"] = 13 } }],
        };

        var e = Assert.Throws<InvalidOperationException>(() => new TestEngine(config, interfaces));

        Assert.StartsWith("line 13: service web6: gateway 2001:db8:1::1 is reached through front, which has no IPv6 address", e.Message);
    }

    [Fact]
    public void Build_Ipv6BackendWithAMacBehindAnInterfaceWithoutIpv6_IsAccepted()
    {
        var engine = new TestEngine(new BalancerConfig { Services = [Web6()] }, Interfaces(backAddress6: false));

        Assert.NotNull(engine.Engine.Workers[0].Processor.Worker.Sessions6);
    }

    [Fact]
    public void Start_Ipv4AndIpv6Nat_DropsBothFamiliesOfRepliesOnTheBackExceptToItsOwnAddresses()
    {
        var platform = new FakePlatform(Interfaces());
        using var engine = EngineBuilder.Build(new BalancerConfig { Services = [Web4(), Web6()] }, platform.Platform);

        engine.Start();

        var front = platform.IngressDrops.Single(d => d.Interface == "front");
        Assert.Equal([Ipv4.Parse("10.99.0.100")], front.Vips);
        Assert.Equal([Ipv6.Parse(Vip)], front.Vips6);
        var back = platform.IngressDrops.Single(d => d.Interface == "back");
        Assert.Contains(back.Replies, r => r.Address == Ipv4.Parse("10.99.4.11") && r.Port == 80 && r.Address6 == 0);
        Assert.Contains(back.Replies, r => r.Address == 0 && r.Address6 == Ipv6.Parse(Rs1) && r.Port == 8081 && r.Protocol == IpProtocols.Tcp);
        Assert.Equal(Ipv4.Parse("10.99.4.1"), back.LocalAddress);
        Assert.Equal(Ipv6.Parse(BackAddress), back.LocalAddress6);
    }
}
