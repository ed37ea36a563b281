using System.Net;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.TestKit;

/// <summary>The two-armed NAT world of the NAT packet cases: clients behind a router on "front" (the balancer at
/// 10.99.1.10), one backend rs1 at 10.99.4.11 on "back" (the balancer at 10.99.4.1, MTU 1400 so a large frame
/// needs fragmentation), serving "web" TCP 80 on its port 8080 (so the port is rewritten too) and "echo" UDP 5353.
/// Each case uses its own client port.</summary>
public static class NatFixture
{
    public const string Vip = "10.99.0.100";
    public const string Client = "10.99.2.2";
    public const string Rs1 = "10.99.4.11";
    public const ushort WebPort = 80, Rs1WebPort = 8080, EchoPort = 5353;
    public const int BackMtu = 1400;
    public static readonly MacAddress FrontMac = Fixtures.NatFrontMac;
    public static readonly MacAddress BackMac = Fixtures.NatBackMac;
    public static readonly MacAddress RouterMac = MacAddress.Parse("02:00:00:00:0a:01");
    public static readonly MacAddress Rs1Mac = MacAddress.Parse("02:00:00:00:04:11");
    public static readonly IReadOnlyList<TestInterface> Interfaces =
    [
        Fixtures.NatInterfaces[0],
        Fixtures.NatInterfaces[1] with { Mtu = BackMtu },
    ];

    /// <summary>Frames from the backend side arrive on interface 1.</summary>
    public static readonly FrameMeta BackSide = new() { IngressInterface = 1 };

    public static BalancerConfig Config() => new()
    {
        FlowTableSize = 8192,
        Services =
        [
            Service("web", WebPort, TransportProtocol.Tcp, new BackendConfig { Name = "rs1", Address = IPAddress.Parse(Rs1), Mac = Rs1Mac, Port = Rs1WebPort }),
            Service("echo", EchoPort, TransportProtocol.Udp, new BackendConfig { Name = "e1", Address = IPAddress.Parse(Rs1), Mac = Rs1Mac }),
        ],
    };

    private static ServiceConfig Service(string name, ushort port, TransportProtocol protocol, BackendConfig backend) => new()
    {
        Name = name, Vip = IPAddress.Parse(Vip), Port = port, Protocol = protocol, Mode = ForwardingMode.Nat,
        Interface = "front", BackendInterface = "back", Backends = [backend],
    };

    public static TestEngine Engine(FakeClock? clock = null) => new(Config(), Interfaces, clock);

    /// <summary>A TCP segment from the client to web, as the router hands it to the balancer.</summary>
    public static FrameBuilder ClientTcp(ushort clientPort, TcpFlags flags) =>
        FrameBuilder.Tcp(Client, clientPort, Vip, WebPort).Flags(flags).Sequence(100, 0).Payload("hello")
            .EthernetSource(RouterMac).EthernetDestination(FrontMac);

    /// <summary><see cref="ClientTcp"/> as it leaves for rs1: destination rs1:8080, TTL − 1, our back MAC.</summary>
    public static FrameBuilder ToBackend(FrameBuilder client, string destination = Rs1, ushort port = Rs1WebPort) =>
        client.Clone().Ttl(63).EthernetSource(BackMac).EthernetDestination(Rs1Mac).Retarget(destination, port);

    public static FrameBuilder ClientUdp(ushort clientPort, string payload = "q") =>
        FrameBuilder.Udp(Client, clientPort, Vip, EchoPort).Payload(payload).EthernetSource(RouterMac).EthernetDestination(FrontMac);

    /// <summary>rs1's answer to the client's <paramref name="clientPort"/> on web.</summary>
    public static FrameBuilder BackendTcp(ushort clientPort, TcpFlags flags) =>
        FrameBuilder.Tcp(Rs1, Rs1WebPort, Client, clientPort).Flags(flags).Sequence(7, 101).Payload("world")
            .EthernetSource(Rs1Mac).EthernetDestination(BackMac);

    /// <summary>The packet cases. Each call builds fresh arrays.</summary>
    public static IReadOnlyList<PacketCase> Cases()
    {
        var syn = ClientTcp(41001, TcpFlags.Syn);
        var data = ClientTcp(41002, TcpFlags.Psh | TcpFlags.Ack);
        var reply = BackendTcp(41003, TcpFlags.Syn | TcpFlags.Ack);
        var udp = ClientUdp(41004);
        var udpReply = FrameBuilder.Udp(Rs1, EchoPort, Client, 41005).Payload("rs1 q").EthernetSource(Rs1Mac).EthernetDestination(BackMac);
        var partial = ClientTcp(41006, TcpFlags.Syn).L4Checksum(ChecksumMode.Partial);

        // rs1 tells the client (through us) that UDP port 5353 was unreachable: it quotes the datagram it received.
        var unreachableFor = ClientUdp(41007);
        var received = ToBackend(unreachableFor, Rs1, EchoPort).Build()[14..(14 + 28)];
        var unreachable = FrameBuilder.Icmp(Rs1, Client).IcmpHeader(3, 3).Payload(received).EthernetSource(Rs1Mac).EthernetDestination(BackMac);
        var quotedAsSent = unreachableFor.Clone().Ttl(63).Build()[14..(14 + 28)];
        var unreachableOut = FrameBuilder.Icmp(Vip, Client).IcmpHeader(3, 3).Ttl(63).Payload(quotedAsSent).EthernetSource(FrontMac).EthernetDestination(RouterMac);

        // Too big for the back side's MTU, with DF: answered with fragmentation-needed from our front address.
        var big = ClientTcp(41008, TcpFlags.Ack).Payload(new byte[BackMtu]).DontFragment();
        var bigFrame = big.Build();
        var fragNeeded = FrameBuilder.Icmp("10.99.1.10", Client).IcmpHeader(3, 4, 0, BackMtu).Tos(0xC0).Identification(0)
            .Payload(bigFrame[14..(14 + 28)]).EthernetSource(FrontMac).EthernetDestination(RouterMac);

        return
        [
            Forwarded("tcp syn opens a session and is translated to the backend", syn, ToBackend(syn)),
            Forwarded("tcp data in a session is translated", data, ToBackend(data), setup: [ClientTcp(41002, TcpFlags.Syn).Build()]),
            Forwarded("udp to echo is translated", udp, ToBackend(udp, Rs1, EchoPort)),
            new("partial tcp checksum is completed and translated", partial.Build(), new FrameMeta { ChecksumNotReady = true }, Verdict.Transmit,
                ExpectedOutput: ToBackend(partial).L4Checksum(ChecksumMode.Correct).Build()),
            new("a reply in a session becomes the vip's", reply.Build(), BackSide, Verdict.Transmit,
                ExpectedOutput: FrameBuilder.Tcp(Vip, WebPort, Client, 41003).Flags(TcpFlags.Syn | TcpFlags.Ack).Sequence(7, 101).Payload("world").Ttl(63)
                    .EthernetSource(FrontMac).EthernetDestination(RouterMac).Build(),
                Setup: [ClientTcp(41003, TcpFlags.Syn).Build()]),
            new("a udp reply in a session becomes the vip's", udpReply.Build(), BackSide, Verdict.Transmit,
                ExpectedOutput: FrameBuilder.Udp(Vip, EchoPort, Client, 41005).Payload("rs1 q").Ttl(63).EthernetSource(FrontMac).EthernetDestination(RouterMac).Build(),
                Setup: [ClientUdp(41005).Build()]),
            new("icmp port unreachable from the backend reaches the client from the vip", unreachable.Build(), BackSide, Verdict.Transmit,
                ExpectedOutput: unreachableOut.Build(), Setup: [unreachableFor.Build()]),
            new("a frame too big for the back side gets fragmentation-needed", bigFrame, default, Verdict.Transmit,
                ExpectedOutput: fragNeeded.Build(), Setup: [ClientTcp(41008, TcpFlags.Syn).Build()]),

            Dropped("mid-stream tcp without a session is dropped", ClientTcp(41101, TcpFlags.Ack).Build(), DropReason.NatNoSession),
            Dropped("ttl 1 is dropped", ClientTcp(41102, TcpFlags.Syn).Ttl(1).Build(), DropReason.TtlExpired),
            Dropped("a bad ip header checksum is dropped", ClientTcp(41103, TcpFlags.Syn).IpChecksum(ChecksumMode.Corrupt).Build(), DropReason.Ipv4BadChecksum),
            Dropped("a fragment to the vip is dropped", ClientTcp(41104, TcpFlags.Syn).Fragment(true, 0).Build(), DropReason.Ipv4Fragment),
            Dropped("an icmp error to the vip quoting no session is dropped",
                FrameBuilder.Icmp("10.99.1.1", Vip).IcmpHeader(3, 1).Payload(FrameBuilder.Udp(Vip, EchoPort, Client, 41105).Build()[14..42])
                    .EthernetSource(RouterMac).EthernetDestination(FrontMac).Build(), DropReason.NatNoSession),

            Passed("a stray reply without a session passes", BackendTcp(41201, TcpFlags.Ack).Build(), BackSide),
            Passed("the balancer's own conversation on the back side passes",
                FrameBuilder.Tcp(Rs1, Rs1WebPort, "10.99.4.1", 41202).Flags(TcpFlags.Ack).EthernetSource(Rs1Mac).EthernetDestination(BackMac).Build(), BackSide),
            Passed("tcp to a vip port that is no service passes", FrameBuilder.Tcp(Client, 41203, Vip, 22).EthernetDestination(FrontMac).Build()),
            Passed("icmp echo to the vip passes", FrameBuilder.Icmp(Client, Vip).IcmpHeader(8, 0, 7, 1).Payload("ping").EthernetDestination(FrontMac).Build()),
        ];
    }

    private static PacketCase Forwarded(string description, FrameBuilder input, FrameBuilder output, IReadOnlyList<byte[]>? setup = null) =>
        new(description, input.Build(), default, Verdict.Transmit, ExpectedOutput: output.Build(), Setup: setup);

    private static PacketCase Dropped(string description, byte[] input, DropReason reason) => new(description, input, default, Verdict.Drop, reason);

    private static PacketCase Passed(string description, byte[] input, FrameMeta meta = default) => new(description, input, meta, Verdict.Pass);
}
