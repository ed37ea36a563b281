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
    public static IEnumerable<int> Flows(int owner, bool owned = true, int from = 0)
    {
        var table = ClusterTable.Build(Nodes, _ => true);
        for (var i = from; ; i++)
            if ((table.OwnerOf(FlowHash(i)) == owner) == owned) yield return i;
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
}
