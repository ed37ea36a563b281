using System.Net;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Lab.Tests.Infrastructure;
using LoadBalancer.Linux.Packet;

namespace LoadBalancer.Lab.Tests.Linux;

/// <summary>Neighbour discovery against a real kernel (the IPv6 config keys the engine would need for a whole-engine
/// lab are not parsed yet): a veth whose one end is ours and whose other end is a host in a namespace of the test's
/// own. The host's kernel solicits the VIP and our socket hears it through its filter (not the host's IPv6 data
/// traffic to our MAC), the responder's advertisement is taken into the host's neighbour cache, and our solicitation
/// of the host (a backend) is answered and learned.</summary>
public sealed class NeighborDiscoverySocketTests : IDisposable
{
    private const string HostIp = "2001:db8:77::1";
    private const string OurIp = "2001:db8:77::2";
    private const string Vip = "2001:db8:77::100";

    private readonly string _ns = "lt" + Convert.ToHexString(Guid.NewGuid().ToByteArray())[..6].ToLowerInvariant() + "-nd";
    private readonly string _ours;
    private readonly string _host;
    private bool _linked;
    private bool _created;

    public NeighborDiscoverySocketTests()
    {
        _ours = _ns[..8] + "n0";
        _host = _ns[..8] + "n1";
    }

    [LabFact]
    public void KernelSolicitsVip_OurAdvertisementIsCached_AndOurSolicitationOfTheHostIsLearned()
    {
        Assert.Equal(0, Shell.Run("ip", ["link", "add", _ours, "type", "veth", "peer", "name", _host]).ExitCode);
        _linked = true;
        Assert.Equal(0, Shell.Run("ip", ["netns", "add", _ns]).ExitCode);
        _created = true;
        // Our end keeps no IPv6 of its own in this namespace: the test's socket speaks for it.
        var setup = Shell.Bash($"sysctl -qw net.ipv6.conf.{_ours}.disable_ipv6=1 && ip link set {_host} netns {_ns} && ip link set {_ours} up");
        Assert.True(setup.ExitCode == 0, setup.Output);
        var ourMac = MacAddress.Parse(File.ReadAllText($"/sys/class/net/{_ours}/address").Trim());
        var host = Shell.InNamespace(_ns, ["bash", "-c",
            $"ip link set lo up && ip link set {_host} up && ip -6 addr add {HostIp}/64 dev {_host} nodad && " +
            $"ip -6 neigh replace {OurIp} lladdr {ourMac} dev {_host} && cat /sys/class/net/{_host}/address"]);
        Assert.True(host.ExitCode == 0, host.Output);
        var hostMac = MacAddress.Parse(host.Stdout.Trim());

        var plan = new InterfacePlan();
        plan.Add(_ours, ourMac, 0, 1500, Ipv6.Parse(OurIp));
        var neighbors = new NeighborTable();
        var config = new BalancerConfig
        {
            Services =
            [
                new ServiceConfig
                {
                    Name = "web6", Vip = IPAddress.Parse(Vip), Port = 80, Protocol = TransportProtocol.Tcp, Interface = _ours,
                    Backends = [new BackendConfig { Name = "host", Address = IPAddress.Parse(HostIp) }],
                },
            ],
        };
        var state = new DataPlaneState(new SnapshotBuilder(neighbors, plan).Build(config));
        var responder = new NeighborDiscoveryResponder(state, neighbors, plan);
        var backend = state.Current.Services[0].Backends[0].NeighborIndex;
        using var socket = NeighborDiscoverySocket.Open(_ours);
        socket.JoinMulticast(Ipv6.MulticastMac(Ipv6.SolicitedNode(Ipv6.Parse(Vip))));

        // Data to our MAC first (it must not reach the socket), then to the VIP, which the host must solicit.
        var send = Shell.InNamespace(_ns, ["/usr/bin/python3", "-c",
            "import socket\ns=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n" +
            $"s.sendto(b'data',('{OurIp}',9))\ns.sendto(b'data',('{Vip}',9))"]);
        Assert.True(send.ExitCode == 0, send.Output);
        var buffer = new byte[2048];
        var reply = new byte[128];
        var heard = new List<byte[]>();
        var deadline = Environment.TickCount64 + 10_000;
        var asked = false;
        while (Environment.TickCount64 < deadline && (responder.AdvertisementsSent == 0 || responder.Learned == 0))
        {
            if (responder.AdvertisementsSent > 0 && !asked)
            {
                asked = true;
                neighbors.Asked(backend, Environment.TickCount64);
                var n = NeighborDiscoveryPacket.WriteSolicitationFrame(reply, ourMac, Ipv6.Parse(OurIp), Ipv6.Parse(HostIp));
                Assert.True(socket.Send(reply.AsSpan(0, n)));
            }
            var length = socket.Receive(buffer, 200);
            if (length <= 0) continue;
            heard.Add(buffer[..length]);
            if (responder.Handle(buffer.AsSpan(0, length), reply, out var replyLength, 0, Environment.TickCount64) == NeighborDiscoveryAction.Reply)
                Assert.True(socket.Send(reply.AsSpan(0, replyLength)));
        }

        Assert.Equal(1, responder.AdvertisementsSent);
        Assert.All(heard, f => Assert.True(f[20] == IpProtocols.Icmpv6 && f[54] is 135 or 136, $"the filter let {FrameHex(f)} through"));
        Assert.Equal(hostMac, neighbors.Mac(backend));
        Assert.Equal(0, responder.Malformed);
        var cache = Shell.InNamespace(_ns, ["ip", "-6", "neigh", "show", Vip, "dev", _host]);
        Assert.Contains(ourMac.ToString(), cache.Stdout);
    }

    private static string FrameHex(byte[] frame) => Convert.ToHexString(frame.AsSpan(0, Math.Min(frame.Length, 64))).ToLowerInvariant();

    public void Dispose()
    {
        if (_created) Shell.Run("ip", ["netns", "delete", _ns]);
        if (_linked) Shell.Run("ip", ["link", "delete", _ours]);
    }
}
