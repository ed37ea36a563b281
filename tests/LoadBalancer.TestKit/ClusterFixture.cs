using System.Net;
using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.TestKit;

/// <summary>The three-node CLUSTERIP world shared by the cluster tests and benchmarks: nodes 1..3 at
/// 10.99.1.{10 + id}, the "web" service on VIP 10.99.0.100 behind the multicast cluster MAC, each node's
/// engine with an "eth" interface and the TAP it creates for re-injection (interface 1), and client flows numbered i.</summary>
public static class ClusterFixture
{
    public static readonly MacAddress ClusterMac = MacAddress.Parse("01:00:5e:7f:00:64");
    public static readonly MacAddress NodeMac = MacAddress.Parse("02:00:00:00:01:01");
    public static readonly MacAddress TapMac = MacAddress.Parse("02:00:00:00:7a:01");
    public const string Vip = "10.99.0.100";
    public const ushort Port = 80;

    public static string NodeIp(int id) => $"10.99.1.{10 + id}";

    public static ClusterNodeConfig Node(int id, int weight = BackendConfig.DefaultWeight) =>
        new() { Id = id, Address = IPAddress.Parse(NodeIp(id)), Weight = weight };

    /// <summary>Nodes 1, 2 and 3 at the default weight (a fresh array each time).</summary>
    public static ClusterNodeConfig[] Nodes => [Node(1), Node(2), Node(3)];

    /// <summary>The "web" service in CLUSTERIP mode (TCP health checks), as node <paramref name="local"/> sees it;
    /// with <paramref name="initial"/> healthy every node counts as alive from the start.</summary>
    public static BalancerConfig Config(int local, ushort port = Port, TransportProtocol protocol = TransportProtocol.Tcp,
        BackendHealth initial = BackendHealth.Unknown) => new()
    {
        Services =
        [
            new ServiceConfig
            {
                Name = "web", Vip = IPAddress.Parse(Vip), Port = port, Protocol = protocol, Mode = ForwardingMode.ClusterIp, Interface = "eth",
                Health = new HealthCheckConfig { Type = HealthCheckType.Tcp, Initial = initial },
                Cluster = new ClusterConfig { Mac = ClusterMac, LocalNode = local, Nodes = Nodes },
            },
        ],
    };

    /// <summary>The name node <paramref name="id"/> goes by as a backend (health, state table, status).</summary>
    public static string NodeName(int id) => Node(id).BackendName;

    /// <summary>Node <paramref name="id"/>'s engine: "eth" at the node's address, and the TAP it creates for
    /// re-injection (interface 1, <see cref="TapMac"/>). Every node alive from the start unless
    /// <paramref name="allAlive"/> is false (a cold start: no node's health decided yet).</summary>
    public static TestEngine Engine(int id, FakeClock clock, ushort port = Port, TransportProtocol protocol = TransportProtocol.Tcp,
        bool allAlive = true) =>
        new(Config(id, port, protocol, allAlive ? BackendHealth.Healthy : BackendHealth.Unknown), [new("eth", NodeMac, FrameBuilder.Ip(NodeIp(id)))],
            clock: clock, tapMac: TapMac);

    /// <summary>Client flow <paramref name="i"/>: 1000 ports per address from 198.51.100.1:20000 on.</summary>
    public static string ClientIp(int i) => $"198.51.100.{1 + i / 1000}";

    public static ushort ClientPort(int i) => (ushort)(20000 + i % 1000);

    /// <summary>The ownership hash of client flow <paramref name="i"/> to <paramref name="port"/> (source IP and port, default seed).</summary>
    public static uint FlowHash(int i, ushort port = Port) =>
        ClusterFlowHash.Compute(ClusterHash.SourceIpSourcePort, FrameBuilder.Ip(ClientIp(i)), ClientPort(i), port, BalancerConfig.DefaultHashSeed);

    /// <summary>A TCP segment of client flow <paramref name="i"/> to the VIP, sent to the cluster MAC.</summary>
    public static byte[] Tcp(int i, TcpFlags flags, string payload = "") =>
        FrameBuilder.Tcp(ClientIp(i), ClientPort(i), Vip, Port).Flags(flags).Payload(payload).EthernetDestination(ClusterMac).Build();

    /// <summary>Client flows node <paramref name="owner"/> owns (or, with <paramref name="owned"/> false, does not)
    /// while every node is alive, from flow <paramref name="from"/> on.</summary>
    public static IEnumerable<int> Flows(int owner, bool owned = true, int from = 0) => OwnedFlows(Nodes, i => FlowHash(i), owner, owned, from);

    private static IEnumerable<int> OwnedFlows(ClusterNodeConfig[] nodes, Func<int, uint> hash, int owner, bool owned, int from)
    {
        var table = ClusterTable.Build(nodes, _ => true);
        for (var i = from; ; i++)
            if ((table.OwnerOf(hash(i)) == owner) == owned) yield return i;
    }

    /// <summary>The packet cases, for node 1 of three all alive, just started (so the TCP transition is on).
    /// Each case uses its own client flow.</summary>
    public static IReadOnlyList<PacketCase> Cases()
    {
        var owned = Flows(1).Take(4).ToArray();
        var other = Flows(1, owned: false).First();
        static byte[] ToTap(byte[] frame)
        {
            var copy = (byte[])frame.Clone();
            TapMac.Write(copy);
            return copy;
        }
        var partial = FrameBuilder.Tcp(ClientIp(owned[3]), ClientPort(owned[3]), Vip, Port).Flags(TcpFlags.Syn).EthernetDestination(ClusterMac);
        return
        [
            new("a syn this node owns is re-injected with the tap's mac", Tcp(owned[0], TcpFlags.Syn), default, Verdict.Transmit,
                ExpectedOutput: ToTap(Tcp(owned[0], TcpFlags.Syn))),
            new("data of a flow it accepted is re-injected", Tcp(owned[1], TcpFlags.Ack, "x"), default, Verdict.Transmit,
                ExpectedOutput: ToTap(Tcp(owned[1], TcpFlags.Ack, "x")), Setup: [Tcp(owned[1], TcpFlags.Syn)]),
            new("a partial checksum is completed before re-injection", partial.Clone().L4Checksum(ChecksumMode.Partial).Build(),
                new FrameMeta { ChecksumNotReady = true }, Verdict.Transmit, ExpectedOutput: ToTap(partial.Build())),
            new("a syn another node owns is refused", Tcp(other, TcpFlags.Syn), default, Verdict.Drop, DropReason.NotOwner),
            new("data of an unknown flow in its own bucket is refused while the transition lasts", Tcp(owned[2], TcpFlags.Ack, "x"), default,
                Verdict.Drop, DropReason.NotOwner),
            new("a fragment to the vip is dropped", FrameBuilder.Tcp(ClientIp(9000), ClientPort(9000), Vip, Port).Fragment(true, 0)
                .EthernetDestination(ClusterMac).Build(), default, Verdict.Drop, DropReason.Ipv4Fragment),
            new("a cut tcp header is dropped", FrameBuilder.Ipv4Raw(ClientIp(9001), Vip, 6).Payload(0x9c, 0x40, 0, 80).EthernetDestination(ClusterMac).Build(),
                default, Verdict.Drop, DropReason.TcpTruncated),
            new("udp to the vip passes (no udp service)", FrameBuilder.Udp(ClientIp(9002), ClientPort(9002), Vip, Port).EthernetDestination(ClusterMac).Build(),
                default, Verdict.Pass),
            new("a frame to the node's own address passes", FrameBuilder.Tcp(ClientIp(9003), ClientPort(9003), NodeIp(1), 22).Build(), default, Verdict.Pass),
        ];
    }

    // CLUSTERIP6: the same three nodes with IPv6 addresses, "web6" on an IPv6 VIP behind a 33:33 cluster MAC.

    /// <summary>The cluster MAC of the IPv6 VIP: a multicast MAC in the range IPv6 multicast maps to (33:33:...), so a
    /// bridge floods it as it floods any IPv6 group.</summary>
    public static readonly MacAddress ClusterMac6 = MacAddress.Parse("33:33:00:00:01:00");
    public const string Vip6 = "2001:db8::100";

    public static string NodeIp6(int id) => $"2001:db8:1::{10 + id}";

    public static ClusterNodeConfig Node6(int id) => new() { Id = id, Address = IPAddress.Parse(NodeIp6(id)), Weight = BackendConfig.DefaultWeight };

    public static ClusterNodeConfig[] Nodes6 => [Node6(1), Node6(2), Node6(3)];

    /// <summary>The "web6" service in CLUSTERIP mode on <see cref="Vip6"/>, as <see cref="Config"/> is for IPv4.</summary>
    public static BalancerConfig Config6(int local, ushort port = Port, TransportProtocol protocol = TransportProtocol.Tcp,
        BackendHealth initial = BackendHealth.Unknown) => new()
    {
        Services =
        [
            new ServiceConfig
            {
                Name = "web6", Vip = IPAddress.Parse(Vip6), Port = port, Protocol = protocol, Mode = ForwardingMode.ClusterIp, Interface = "eth",
                Health = new HealthCheckConfig { Type = HealthCheckType.Tcp, Initial = initial },
                Cluster = new ClusterConfig { Mac = ClusterMac6, LocalNode = local, Nodes = Nodes6 },
            },
        ],
    };

    /// <summary>Node <paramref name="id"/>'s engine for <see cref="Config6"/>: "eth" at the node's IPv4 and IPv6 addresses,
    /// the TAP as interface 1.</summary>
    public static TestEngine Engine6(int id, FakeClock clock, ushort port = Port, TransportProtocol protocol = TransportProtocol.Tcp,
        bool allAlive = true) =>
        new(Config6(id, port, protocol, allAlive ? BackendHealth.Healthy : BackendHealth.Unknown),
            [new("eth", NodeMac, FrameBuilder.Ip(NodeIp(id)), 1500, Ipv6.Parse(NodeIp6(id)))], clock: clock, tapMac: TapMac);

    /// <summary>IPv6 client flow <paramref name="i"/>: 1000 ports per address from [2001:db8:ffff::1]:20000 on.</summary>
    public static string ClientIp6(int i) => $"2001:db8:ffff::{1 + i / 1000:x}";

    /// <summary>The ownership hash of IPv6 client flow <paramref name="i"/> (source IP and port, default seed).</summary>
    public static uint FlowHash6(int i, ushort port = Port) =>
        ClusterFlowHash.Compute6(ClusterHash.SourceIpSourcePort, Ipv6.Parse(ClientIp6(i)), ClientPort(i), port, BalancerConfig.DefaultHashSeed);

    /// <summary>A TCP segment of IPv6 client flow <paramref name="i"/> to <see cref="Vip6"/>, sent to the cluster MAC.</summary>
    public static byte[] Tcp6(int i, TcpFlags flags, string payload = "") => Tcp6Builder(i, flags, payload).Build();

    public static Ipv6FrameBuilder Tcp6Builder(int i, TcpFlags flags, string payload = "") =>
        Ipv6FrameBuilder.Tcp(ClientIp6(i), ClientPort(i), Vip6, Port).Flags(flags).Payload(payload).Macs(ClusterMac6, FrameBuilder.DefaultSourceMac);

    /// <summary>A UDP datagram of IPv6 client flow <paramref name="i"/> to <see cref="Vip6"/>:<paramref name="port"/>.</summary>
    public static byte[] Udp6(int i, ushort port = 53) =>
        Ipv6FrameBuilder.Udp(ClientIp6(i), ClientPort(i), Vip6, port).Payload("q").Macs(ClusterMac6, FrameBuilder.DefaultSourceMac).Build();

    /// <summary>IPv6 client flows node <paramref name="owner"/> owns (or not) while every node is alive.</summary>
    public static IEnumerable<int> Flows6(int owner, bool owned = true, int from = 0) => OwnedFlows(Nodes6, i => FlowHash6(i), owner, owned, from);

    /// <summary>The IPv6 packet cases, for node 1 of three all alive, just started, as <see cref="Cases"/> for IPv4.</summary>
    public static IReadOnlyList<PacketCase> Cases6()
    {
        var owned = Flows6(1).Take(5).ToArray();
        var other = Flows6(1, owned: false).First();
        static byte[] ToTap(byte[] frame)
        {
            var copy = (byte[])frame.Clone();
            TapMac.Write(copy);
            return copy;
        }
        Ipv6FrameBuilder Unowned(int i) =>
            Ipv6FrameBuilder.Tcp(ClientIp6(i), ClientPort(i), Vip6, Port).Flags(TcpFlags.Syn).Macs(ClusterMac6, FrameBuilder.DefaultSourceMac);
        var withExtensions = Tcp6Builder(owned[4], TcpFlags.Syn).Extension(Ipv6Packet.HopByHop).Extension(Ipv6Packet.DestinationOptions);
        var tooMany = Unowned(9004);
        for (var e = 0; e < 9; e++) tooMany.Extension(Ipv6Packet.DestinationOptions);
        return
        [
            new("a syn this node owns is re-injected with the tap's mac", Tcp6(owned[0], TcpFlags.Syn), default, Verdict.Transmit,
                ExpectedOutput: ToTap(Tcp6(owned[0], TcpFlags.Syn))),
            new("data of a flow it accepted is re-injected", Tcp6(owned[1], TcpFlags.Ack, "x"), default, Verdict.Transmit,
                ExpectedOutput: ToTap(Tcp6(owned[1], TcpFlags.Ack, "x")), Setup: [Tcp6(owned[1], TcpFlags.Syn)]),
            new("a partial checksum is completed before re-injection", Tcp6Builder(owned[3], TcpFlags.Syn).L4Checksum(ChecksumMode.Partial).Build(),
                new FrameMeta { ChecksumNotReady = true }, Verdict.Transmit, ExpectedOutput: ToTap(Tcp6(owned[3], TcpFlags.Syn))),
            new("extension headers are kept as they came", withExtensions.Build(), default, Verdict.Transmit, ExpectedOutput: ToTap(withExtensions.Build())),
            new("a syn another node owns is refused", Tcp6(other, TcpFlags.Syn), default, Verdict.Drop, DropReason.NotOwner),
            new("data of an unknown flow in its own bucket is refused while the transition lasts", Tcp6(owned[2], TcpFlags.Ack, "x"), default,
                Verdict.Drop, DropReason.NotOwner),
            new("a fragment to the vip is dropped", Unowned(9000).Fragment(0, true).Build(), default, Verdict.Drop, DropReason.Ipv6Fragment),
            new("more than 8 extension headers are dropped", tooMany.Build(), default, Verdict.Drop, DropReason.Ipv6TooManyExtensionHeaders),
            new("a payload length beyond the frame is dropped", Unowned(9005).PayloadLength(400).Build(), default, Verdict.Drop, DropReason.Ipv6Truncated),
            new("a payload length of 0 is dropped", Unowned(9006).PayloadLength(0).Build(), default, Verdict.Drop, DropReason.Ipv6BadPayloadLength),
            new("an unknown next header to the vip is dropped", Ipv6FrameBuilder.Raw(ClientIp6(9001), Vip6, 253).Payload(1, 2, 3, 4)
                .Macs(ClusterMac6, FrameBuilder.DefaultSourceMac).Build(), default, Verdict.Drop, DropReason.Ipv6UnknownNextHeader),
            new("udp to the vip passes (no udp service)", Udp6(9002, Port), default, Verdict.Pass),
            new("a frame to the node's own address passes", Ipv6FrameBuilder.Tcp(ClientIp6(9003), ClientPort(9003), NodeIp6(1), 22).Build(), default, Verdict.Pass),
        ];
    }
}
