using System.Net;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.TestKit;

/// <summary>The three-node CLUSTERIP world shared by the cluster tests and benchmarks: nodes 1..3 at
/// 10.99.1.{10 + id}, the "web" service on VIP 10.99.0.100 behind the multicast cluster MAC, each node's
/// engine with an "eth" interface and a "tap" for re-injection (port 1), and client flows numbered i.</summary>
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

    /// <summary>The "web" service in CLUSTERIP mode (TCP health checks), as node <paramref name="local"/> sees it.</summary>
    public static BalancerConfig Config(int local, ushort port = Port, TransportProtocol protocol = TransportProtocol.Tcp) => new()
    {
        Services =
        [
            new ServiceConfig
            {
                Name = "web", Vip = IPAddress.Parse(Vip), Port = port, Protocol = protocol, Mode = ForwardingMode.ClusterIp, Interface = "eth",
                Health = new HealthCheckConfig { Type = HealthCheckType.Tcp },
                Cluster = new ClusterConfig { Mac = ClusterMac, LocalNode = local, Nodes = Nodes },
            },
        ],
    };

    /// <summary>Every node healthy and active at its configured weight.</summary>
    public static BackendRuntime AllHealthy(ServiceConfig service, BackendConfig backend) =>
        new(BackendHealth.Healthy, BackendIntent.Active, backend.Weight);

    /// <summary>Node <paramref name="id"/>'s engine: "eth" at the node's address, "tap" for re-injection.</summary>
    public static TestEngine Engine(int id, FakeClock clock, ushort port = Port, TransportProtocol protocol = TransportProtocol.Tcp,
        Func<ServiceConfig, BackendConfig, BackendRuntime>? runtime = null) =>
        new(Config(id, port, protocol), [new("eth", NodeMac, FrameBuilder.Ip(NodeIp(id))), new("tap", TapMac, 0)], clock: clock,
            reinjectPort: _ => 1, runtime: runtime ?? AllHealthy);

    /// <summary>Client flow <paramref name="i"/>: 1000 ports per address from 198.51.100.1:20000 on.</summary>
    public static string ClientIp(int i) => $"198.51.100.{1 + i / 1000}";

    public static ushort ClientPort(int i) => (ushort)(20000 + i % 1000);

    /// <summary>The ownership hash of client flow <paramref name="i"/> to <paramref name="port"/> (source IP and port, default seed).</summary>
    public static uint FlowHash(int i, ushort port = Port) =>
        ClusterFlowHash.Compute(ClusterHash.SourceIpSourcePort, FrameBuilder.Ip(ClientIp(i)), ClientPort(i), port, BalancerConfig.DefaultHashSeed);

    /// <summary>A TCP segment of client flow <paramref name="i"/> to the VIP, sent to the cluster MAC.</summary>
    public static byte[] Tcp(int i, TcpFlags flags, string payload = "") =>
        FrameBuilder.Tcp(ClientIp(i), ClientPort(i), Vip, Port).Flags(flags).Payload(payload).EthernetDestination(ClusterMac).Build();
}
