using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>A valid frame the mutations start from, named in failure reports.</summary>
internal sealed record FuzzSeed(string Name, byte[] Frame, FrameMeta Meta = default);

/// <summary>One engine configuration under fuzz: how to build it with its state set up (NAT sessions, remembered
/// flows), what its transmitted frames must look like, the valid frames mutations start from, and the
/// addresses and ports worth aiming at. <paramref name="RandomShare"/> of the frames are random bytes instead.</summary>
internal sealed record FuzzWorld(string Name, Func<TestEngine> Create, Func<FrameChecker> Checker, IReadOnlyList<FuzzSeed> Seeds,
    FuzzValues Values, double RandomShare = 0.1)
{
    public override string ToString() => Name;
}

/// <summary>The worlds of <see cref="FrameFuzzTests"/>: the TestKit's fixtures (DR's shared world, the two-armed NAT
/// world, node 1 of the three-node CLUSTERIP world) with seeds built by the <see cref="FrameBuilder"/>.</summary>
internal static class FuzzWorlds
{
    /// <summary>Client ports with a live NAT session (TCP) or flow (UDP) set up before fuzzing.</summary>
    public const ushort TcpSessionPort = 42000, UdpSessionPort = 43000;
    public const int Sessions = 32;
    private const string FrontRouter = "10.99.1.1", BackRouter = "10.99.4.254";

    private static readonly int[] PayloadSizes = [0, 1, 18, 300, 1000, 1460, 4000];

    // ---- DR ----

    public static FuzzWorld DirectRouting() => new("DR", () =>
        {
            var engine = new TestEngine(Fixtures.Config());
            for (var p = 0; p < Sessions; p++) engine.Process(Fixtures.WebTcp((ushort)(40100 + p)).Flags(TcpFlags.Syn).Build());
            foreach (var flow in Fixtures.PoolFlows(Sessions, TcpFlags.Syn)) engine.Process(flow);
            return engine;
        },
        () => new DirectRoutingChecker(DirectRoutingMacs(), Fixtures.InterfaceMac, interfaceCount: 1, egress: 0),
        DirectRoutingSeeds(), DirectRoutingValues());

    private static HashSet<MacAddress> DirectRoutingMacs()
    {
        var macs = new HashSet<MacAddress> { Fixtures.WebBackendMac, Fixtures.DnsBackendMac };
        for (var i = 1; i <= Fixtures.PoolSize; i++) macs.Add(Fixtures.PoolBackendMac(i));
        return macs;
    }

    private static FuzzValues DirectRoutingValues() => new(
        [.. new[] { Fixtures.WebVip, Fixtures.PoolVip, Fixtures.DarkVip, Fixtures.DrainedVip, Fixtures.InterfaceIp, Fixtures.ClientIp, "10.0.1.1", "198.51.100.1" }
            .Select(FrameBuilder.Ip)],
        [80, 53, 443, 40000, 40100, 5353, 8080, 22, 10000], InterfaceCount: 1);

    private static List<FuzzSeed> DirectRoutingSeeds()
    {
        var seeds = new List<FuzzSeed>();
        foreach (var c in Fixtures.Cases()) seeds.Add(new($"fixture '{c.Description}'", c.Input, c.Meta));
        var flags = new[] { TcpFlags.Syn, TcpFlags.Ack, TcpFlags.Psh | TcpFlags.Ack, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst };
        for (var i = 0; i < PayloadSizes.Length; i++)
        {
            var size = PayloadSizes[i];
            var f = flags[i % flags.Length];
            seeds.Add(new($"web tcp {f} {size} bytes", Fixtures.WebTcp((ushort)(40100 + i)).Flags(f).Payload(new byte[size]).Build()));
            seeds.Add(new($"pool tcp {size} bytes", FrameBuilder.Tcp("198.51.100.1", (ushort)(10000 + i), Fixtures.PoolVip, Fixtures.PoolPort)
                .Flags(TcpFlags.Ack).Payload(new byte[size]).DontFragment(i % 2 == 0).Build()));
            seeds.Add(new($"dns udp {size} bytes", FrameBuilder.Udp(Fixtures.ClientIp, (ushort)(5300 + i), Fixtures.WebVip, Fixtures.DnsPort)
                .Payload(new byte[size]).Build()));
        }
        seeds.Add(new("web tcp vlan with ip options", Fixtures.WebTcp(40101).Vlan(12).IpOptions(0x94, 4, 0, 0, 1, 1, 1, 0).Build()));
        seeds.Add(new("web tcp with 40 bytes of ip options", Fixtures.WebTcp(40102).IpOptions(Enumerable.Repeat((byte)1, 40).ToArray()).Build()));
        seeds.Add(new("web tcp with tcp options", Fixtures.WebTcp(40103).Flags(TcpFlags.Syn).TcpOptions(2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7).Build()));
        AddOffloadSeeds(seeds, "web tcp", Fixtures.WebTcp(40104).Flags(TcpFlags.Psh | TcpFlags.Ack));
        AddOffloadSeeds(seeds, "dns udp", FrameBuilder.Udp(Fixtures.ClientIp, 5399, Fixtures.WebVip, Fixtures.DnsPort).Payload("query"));
        // ICMP to a VIP is the kernel's in a DR-only engine; quoting a web reply, and an echo.
        var quoted = FrameBuilder.Tcp(Fixtures.WebVip, Fixtures.WebPort, Fixtures.ClientIp, 40100).Flags(TcpFlags.Syn | TcpFlags.Ack).Build();
        seeds.Add(new("icmp unreachable to the vip", FrameBuilder.Icmp("192.0.2.1", Fixtures.WebVip).IcmpHeader(3, 3).Payload(quoted[14..]).Build()));
        seeds.Add(new("icmp echo to the vip", FrameBuilder.Icmp(Fixtures.ClientIp, Fixtures.WebVip).IcmpHeader(8, 0, 1, 1).Payload("ping").Build()));
        return seeds;
    }

    /// <summary>The frame with its checksum left partial (TP_STATUS_CSUMNOTREADY; NEEDS_CSUM in the vnet header at
    /// the checksum field) and, for TCP, as a GSO super-frame of 4000 bytes in 1448-byte segments.</summary>
    private static void AddOffloadSeeds(List<FuzzSeed> seeds, string name, FrameBuilder builder, FrameMeta meta = default)
    {
        var partial = builder.Clone().L4Checksum(ChecksumMode.Partial);
        var frame = partial.Build();
        var l4 = (ushort)partial.L4Offset;
        var field = (ushort)partial.L4ChecksumOffset;
        seeds.Add(new($"{name} checksum not ready", frame, meta with { ChecksumNotReady = true }));
        seeds.Add(new($"{name} needs csum", frame, meta with
        {
            ChecksumNotReady = true,
            Vnet = new VnetHeader { Flags = VnetHeader.FlagNeedsChecksum, ChecksumStart = l4, ChecksumOffset = field },
        }));
        var tcp = field == 16;
        var gso = partial.Clone().Payload(new byte[4000]);
        seeds.Add(new($"{name} gso", gso.Build(), meta with
        {
            ChecksumNotReady = true,
            Vnet = new VnetHeader
            {
                Flags = VnetHeader.FlagNeedsChecksum, GsoType = tcp ? VnetHeader.GsoTcpV4 : (byte)5, GsoSize = tcp ? (ushort)1348 : (ushort)1372,
                HeaderLength = (ushort)(l4 + gso.L4HeaderLength), ChecksumStart = l4, ChecksumOffset = field,
            },
        }));
    }

    // ---- NAT ----

    /// <summary>The NAT world with <paramref name="backMtu"/> on the back side, and live sessions: TCP from
    /// <see cref="TcpSessionPort"/> on, UDP from <see cref="UdpSessionPort"/> on.</summary>
    public static TestEngine NatEngine(int backMtu = NatFixture.BackMtu)
    {
        var engine = new TestEngine(NatFixture.Config(), [NatFixture.Interfaces[0], NatFixture.Interfaces[1] with { Mtu = backMtu }]);
        for (var i = 0; i < Sessions; i++)
        {
            engine.Process(NatFixture.ClientTcp((ushort)(TcpSessionPort + i), TcpFlags.Syn).Build());
            engine.Process(NatFixture.ClientUdp((ushort)(UdpSessionPort + i)).Build());
        }
        if (engine.Processor.Worker.Sessions.Count != 2 * Sessions)
            throw new InvalidOperationException($"the NAT sessions were not set up: {engine.Processor.Worker.Sessions.Count} of {2 * Sessions}");
        return engine;
    }

    private static FuzzValues NatValues() => new(
        [.. new[] { NatFixture.Vip, NatFixture.Client, NatFixture.Rs1, "10.99.1.10", "10.99.4.1", FrontRouter, BackRouter, "10.99.4.12" }.Select(FrameBuilder.Ip)],
        [NatFixture.WebPort, NatFixture.Rs1WebPort, NatFixture.EchoPort, TcpSessionPort, TcpSessionPort + 1, UdpSessionPort, UdpSessionPort + 1, 41001, 22],
        InterfaceCount: 2);

    private static ushort SessionPort(int i) => (ushort)(TcpSessionPort + i % Sessions);

    private static ushort UdpPort(int i) => (ushort)(UdpSessionPort + i % Sessions);

    public static FuzzWorld NatClientSide() => new("NAT client side", () => NatEngine(), () => new NatChecker(NatWorld.Fixture()), NatClientSeeds(), NatValues());

    private static List<FuzzSeed> NatClientSeeds()
    {
        var seeds = new List<FuzzSeed>();
        foreach (var c in NatFixture.Cases().Where(c => c.Meta.IngressInterface == 0 && c.Setup is null))
            seeds.Add(new($"fixture '{c.Description}'", c.Input, c.Meta));
        var flags = new[] { TcpFlags.Ack, TcpFlags.Psh | TcpFlags.Ack, TcpFlags.Syn, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst };
        var sizes = new[] { 0, 5, 100, 1000, 1359, 1360, 1361, 1460 };
        for (var i = 0; i < sizes.Length; i++)
        {
            var df = i % 2 == 0;
            seeds.Add(new($"client tcp {flags[i % flags.Length]} {sizes[i]} bytes{(df ? " df" : "")}",
                NatFixture.ClientTcp(SessionPort(i), flags[i % flags.Length]).Payload(new byte[sizes[i]]).DontFragment(df).Build()));
            seeds.Add(new($"client udp {sizes[i]} bytes", NatFixture.ClientUdp(UdpPort(i)).Payload(new byte[sizes[i]]).DontFragment(!df).Build()));
        }
        seeds.Add(new("client tcp vlan", NatFixture.ClientTcp(SessionPort(20), TcpFlags.Ack).Vlan(30).Build()));
        seeds.Add(new("client tcp with ip options", NatFixture.ClientTcp(SessionPort(21), TcpFlags.Ack).IpOptions(0x94, 4, 0, 0, 7, 11, 4).Build()));
        seeds.Add(new("client udp without checksum", NatFixture.ClientUdp(UdpPort(22)).L4Checksum(ChecksumMode.Zero).Build()));
        seeds.Add(new("client tcp syn of a new flow", NatFixture.ClientTcp(41900, TcpFlags.Syn).Build()));
        AddOffloadSeeds(seeds, "client tcp", NatFixture.ClientTcp(SessionPort(23), TcpFlags.Psh | TcpFlags.Ack));
        AddOffloadSeeds(seeds, "client udp", NatFixture.ClientUdp(UdpPort(24), "query"));
        return seeds;
    }

    public static FuzzWorld NatBackendSide() => new("NAT backend side", () => NatEngine(), () => new NatChecker(NatWorld.Fixture()), NatBackendSeeds(), NatValues());

    private static FrameBuilder BackendUdp(ushort clientPort) =>
        FrameBuilder.Udp(NatFixture.Rs1, NatFixture.EchoPort, NatFixture.Client, clientPort).Payload("answer")
            .EthernetSource(NatFixture.Rs1Mac).EthernetDestination(NatFixture.BackMac);

    private static List<FuzzSeed> NatBackendSeeds()
    {
        var back = NatFixture.BackSide;
        var seeds = new List<FuzzSeed>();
        var flags = new[] { TcpFlags.Syn | TcpFlags.Ack, TcpFlags.Ack, TcpFlags.Psh | TcpFlags.Ack, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst };
        for (var i = 0; i < PayloadSizes.Length; i++)
        {
            var size = PayloadSizes[i];
            seeds.Add(new($"backend tcp {flags[i % flags.Length]} {size} bytes",
                NatFixture.BackendTcp(SessionPort(i), flags[i % flags.Length]).Payload(new byte[size]).DontFragment(i % 2 == 0).Build(), back));
            seeds.Add(new($"backend udp {size} bytes", BackendUdp(UdpPort(i)).Payload(new byte[size]).Build(), back));
        }
        seeds.Add(new("backend tcp vlan", NatFixture.BackendTcp(SessionPort(10), TcpFlags.Ack).Vlan(40).Build(), back));
        seeds.Add(new("backend tcp with ip options", NatFixture.BackendTcp(SessionPort(11), TcpFlags.Ack).IpOptions(1, 1, 0x94, 4, 0, 0).Build(), back));
        seeds.Add(new("backend udp without checksum", BackendUdp(UdpPort(12)).L4Checksum(ChecksumMode.Zero).Build(), back));
        seeds.Add(new("a reply without a session", NatFixture.BackendTcp(41999, TcpFlags.Ack).Build(), back));
        seeds.Add(new("the balancer's own conversation", FrameBuilder.Tcp(NatFixture.Rs1, NatFixture.Rs1WebPort, "10.99.4.1", 41202).Flags(TcpFlags.Ack)
            .EthernetSource(NatFixture.Rs1Mac).EthernetDestination(NatFixture.BackMac).Build(), back));
        AddOffloadSeeds(seeds, "backend tcp", NatFixture.BackendTcp(SessionPort(13), TcpFlags.Psh | TcpFlags.Ack), back);
        AddOffloadSeeds(seeds, "backend udp", BackendUdp(UdpPort(14)), back);
        return seeds;
    }

    // ---- NAT ICMP errors ----

    public static FuzzWorld NatIcmpErrors() => new("NAT ICMP errors", () => NatEngine(), () => new NatChecker(NatWorld.Fixture()), NatIcmpSeeds(), NatValues());

    private static List<FuzzSeed> NatIcmpSeeds()
    {
        var seeds = new List<FuzzSeed>();
        var errors = new (byte Type, byte Code)[] { (3, 0), (3, 1), (3, 3), (3, 4), (3, 13), (11, 0), (12, 0), (4, 0) };
        for (var i = 0; i < errors.Length; i++)
        {
            var (type, code) = errors[i];
            var tcp = i % 2 == 0;
            // Client side: a router in front, or the client, reports a reply we sent as VIP:port.
            var reply = tcp
                ? FrameBuilder.Tcp(NatFixture.Vip, NatFixture.WebPort, NatFixture.Client, SessionPort(i)).Flags(TcpFlags.Syn | TcpFlags.Ack).Ttl(63).Payload("world")
                : FrameBuilder.Udp(NatFixture.Vip, NatFixture.EchoPort, NatFixture.Client, UdpPort(i)).Ttl(63).Payload("answer");
            var from = i % 3 == 0 ? NatFixture.Client : FrontRouter;
            foreach (var (what, quote) in Quotes(reply))
                seeds.Add(new($"client-side icmp {type}/{code} from {from} quoting {what}", ToVip(from, type, code, quote).Build()));
            // Backend side: the backend, or a router behind it, reports a packet we sent it.
            var sent = tcp
                ? NatFixture.ToBackend(NatFixture.ClientTcp(SessionPort(i), TcpFlags.Syn))
                : NatFixture.ToBackend(NatFixture.ClientUdp(UdpPort(i)), NatFixture.Rs1, NatFixture.EchoPort);
            var reporter = i % 3 == 1 ? BackRouter : NatFixture.Rs1;
            foreach (var (what, quote) in Quotes(sent))
                seeds.Add(new($"backend-side icmp {type}/{code} from {reporter} quoting {what}", FromBackend(reporter, type, code, quote).Build(), NatFixture.BackSide));
        }
        var someReply = FrameBuilder.Tcp(NatFixture.Vip, NatFixture.WebPort, NatFixture.Client, SessionPort(0)).Flags(TcpFlags.Ack).Build();
        var someSent = NatFixture.ToBackend(NatFixture.ClientTcp(SessionPort(1), TcpFlags.Ack)).Build();
        seeds.Add(new("client-side icmp with outer ip options", ToVip(FrontRouter, 3, 1, someReply[14..42]).IpOptions(1, 1, 1, 1).Build()));
        seeds.Add(new("client-side icmp in a vlan", ToVip(FrontRouter, 3, 1, someReply[14..42]).Vlan(7).Build()));
        seeds.Add(new("client-side icmp quoting no session", ToVip(FrontRouter, 3, 1,
            FrameBuilder.Udp(NatFixture.Vip, NatFixture.EchoPort, NatFixture.Client, 41105).Build()[14..42]).Build()));
        seeds.Add(new("backend-side icmp with outer ip options", FromBackend(NatFixture.Rs1, 3, 3, someSent[14..42]).IpOptions(0x94, 4, 0, 0).Build(), NatFixture.BackSide));
        seeds.Add(new("backend-side icmp in a vlan", FromBackend(NatFixture.Rs1, 3, 3, someSent[14..42]).Vlan(8).Build(), NatFixture.BackSide));
        seeds.Add(new("backend-side redirect", FromBackend(BackRouter, 5, 1, someSent[14..42]).Build(), NatFixture.BackSide));
        seeds.Add(new("backend-side echo reply", FrameBuilder.Icmp(NatFixture.Rs1, NatFixture.Client).IcmpHeader(0, 0, 1, 1).Payload("pong")
            .EthernetSource(NatFixture.Rs1Mac).EthernetDestination(NatFixture.BackMac).Build(), NatFixture.BackSide));
        seeds.Add(new("client-side echo to the vip", FrameBuilder.Icmp(NatFixture.Client, NatFixture.Vip).IcmpHeader(8, 0, 1, 1).Payload("ping")
            .EthernetSource(NatFixture.RouterMac).EthernetDestination(NatFixture.FrontMac).Build()));
        return seeds;
    }

    /// <summary>The ways to quote <paramref name="datagram"/>: its header and 8 bytes (RFC 792), all of it, with IP
    /// options, cut (inside the ports, inside the header), and as other protocols.</summary>
    private static IEnumerable<(string What, byte[] Quote)> Quotes(FrameBuilder datagram)
    {
        var full = datagram.Build()[14..];
        yield return ("header and 8 bytes", full[..28]);
        yield return ("the whole datagram", full);
        var withOptions = datagram.Clone().IpOptions(1, 1, 1, 0x94, 4, 0, 0).Build()[14..];
        yield return ("a header with options and 8 bytes", withOptions[..36]);
        yield return ("a header with 40 bytes of options", datagram.Clone().IpOptions(Enumerable.Repeat((byte)1, 40).ToArray()).Build()[14..(14 + 68)]);
        yield return ("a header and 4 bytes", full[..24]);
        yield return ("19 bytes of header", full[..19]);
        var gre = (byte[])full[..28].Clone();
        gre[9] = 47;
        yield return ("gre", gre);
        var icmp = (byte[])full[..28].Clone();
        icmp[9] = 1;
        yield return ("icmp", icmp);
    }

    private static FrameBuilder ToVip(string from, byte type, byte code, byte[] quote) =>
        FrameBuilder.Icmp(from, NatFixture.Vip).IcmpHeader(type, code).Payload(quote).EthernetSource(NatFixture.RouterMac).EthernetDestination(NatFixture.FrontMac);

    private static FrameBuilder FromBackend(string from, byte type, byte code, byte[] quote) =>
        FrameBuilder.Icmp(from, NatFixture.Client).IcmpHeader(type, code).Payload(quote).EthernetSource(NatFixture.Rs1Mac).EthernetDestination(NatFixture.BackMac);

    // ---- NAT MTU ----

    /// <summary>The NAT world with back-side MTU <paramref name="mtu"/>: datagrams around it (at, one over, one under),
    /// with and without DF and IP options, and GSO frames whose segments are around it.</summary>
    public static FuzzWorld NatMtu(int mtu) => new($"NAT back MTU {mtu}", () => NatEngine(mtu), () => new NatChecker(NatWorld.Fixture(mtu)),
        NatMtuSeeds(mtu), NatValues());

    private static List<FuzzSeed> NatMtuSeeds(int mtu)
    {
        var seeds = new List<FuzzSeed>();
        var optionSets = new[] { Array.Empty<byte>(), new byte[] { 0x94, 4, 0, 0 }, Enumerable.Repeat((byte)1, 20).ToArray(), Enumerable.Repeat((byte)1, 40).ToArray() };
        var n = 0;
        foreach (var options in optionSets)
        {
            foreach (var total in new[] { mtu - 1, mtu, mtu + 1, mtu + 8, 2 * mtu, 1501 })
            {
                foreach (var df in new[] { true, false })
                {
                    var tcp = NatFixture.ClientTcp(SessionPort(n++), TcpFlags.Ack).IpOptions(options).DontFragment(df);
                    tcp.Payload(new byte[Math.Max(0, total - tcp.IpHeaderLength - 20)]);
                    seeds.Add(new($"tcp {tcp.DatagramLength} bytes, {options.Length} of options{(df ? ", df" : "")}", tcp.Build()));
                    var udp = NatFixture.ClientUdp(UdpPort(n++)).IpOptions(options).DontFragment(df);
                    udp.Payload(new byte[Math.Max(0, total - udp.IpHeaderLength - 8)]);
                    seeds.Add(new($"udp {udp.DatagramLength} bytes, {options.Length} of options{(df ? ", df" : "")}", udp.Build()));
                }
            }
            foreach (var delta in new[] { -1, 0, 1 })
            {
                var gso = NatFixture.ClientTcp(SessionPort(n++), TcpFlags.Ack).IpOptions(options).L4Checksum(ChecksumMode.Partial);
                var segment = Math.Max(1, mtu - gso.IpHeaderLength - 20 + delta);
                gso.Payload(new byte[Math.Min(3 * segment, 8000)]);
                seeds.Add(new($"gso segments of {segment}, {options.Length} of options", gso.Build(), new FrameMeta
                {
                    ChecksumNotReady = true,
                    Vnet = new VnetHeader
                    {
                        Flags = VnetHeader.FlagNeedsChecksum, GsoType = VnetHeader.GsoTcpV4, GsoSize = (ushort)segment,
                        HeaderLength = (ushort)(gso.L4Offset + 20), ChecksumStart = (ushort)gso.L4Offset, ChecksumOffset = 16,
                    },
                }));
            }
        }
        seeds.Add(new("tcp over the mtu in a vlan, df", NatFixture.ClientTcp(SessionPort(n++), TcpFlags.Ack).Vlan(3).DontFragment().Payload(new byte[mtu]).Build()));
        seeds.Add(new("tcp over the mtu with padding, df", NatFixture.ClientTcp(SessionPort(n), TcpFlags.Ack).DontFragment().Payload(new byte[mtu]).PadTo(mtu + 100, 0x5A).Build()));
        return seeds;
    }

    // ---- CLUSTERIP ----

    /// <summary>Node 1 of three, all alive. TCP just after the start (the transition: a TCP flow it does not
    /// remember only from a SYN); UDP after the cold start's wait of one UDP timeout.</summary>
    public static FuzzWorld ClusterIp(TransportProtocol protocol) => new($"CLUSTERIP {protocol}", () =>
        {
            var clock = new FakeClock();
            var engine = ClusterFixture.Engine(1, clock, protocol: protocol);
            if (protocol == TransportProtocol.Udp) clock.Advance((long)FlowTimeoutsConfig.Default.Udp.TotalMilliseconds + 1);
            foreach (var i in ClusterFixture.Flows(1).Take(Sessions)) engine.Process(ClusterFrame(protocol, i, TcpFlags.Syn).Build());
            return engine;
        },
        () => new ClusterIpChecker(ClusterFixture.TapMac, tapInterface: 1, interfaceCount: 2), ClusterSeeds(protocol), ClusterValues());

    private static FrameBuilder ClusterFrame(TransportProtocol protocol, int i, TcpFlags flags) => protocol == TransportProtocol.Tcp
        ? FrameBuilder.Tcp(ClusterFixture.ClientIp(i), ClusterFixture.ClientPort(i), ClusterFixture.Vip, ClusterFixture.Port).Flags(flags)
            .EthernetDestination(ClusterFixture.ClusterMac)
        : FrameBuilder.Udp(ClusterFixture.ClientIp(i), ClusterFixture.ClientPort(i), ClusterFixture.Vip, ClusterFixture.Port)
            .EthernetDestination(ClusterFixture.ClusterMac);

    private static FuzzValues ClusterValues() => new(
        [.. new[] { ClusterFixture.Vip, ClusterFixture.NodeIp(1), ClusterFixture.NodeIp(2), ClusterFixture.ClientIp(0), ClusterFixture.ClientIp(1000) }.Select(FrameBuilder.Ip)],
        [ClusterFixture.Port, 20000, 20001, 20002, 20003, 20004, 22, 443], InterfaceCount: 2);

    private static List<FuzzSeed> ClusterSeeds(TransportProtocol protocol)
    {
        var seeds = new List<FuzzSeed>();
        if (protocol == TransportProtocol.Tcp)
            foreach (var c in ClusterFixture.Cases().Where(c => c.Setup is null)) seeds.Add(new($"fixture '{c.Description}'", c.Input, c.Meta));
        var owned = ClusterFixture.Flows(1).Take(Sessions).ToArray();
        var other = ClusterFixture.Flows(1, owned: false).Take(4).ToArray();
        var flags = new[] { TcpFlags.Ack, TcpFlags.Psh | TcpFlags.Ack, TcpFlags.Syn, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst };
        for (var i = 0; i < PayloadSizes.Length; i++)
        {
            var f = flags[i % flags.Length];
            seeds.Add(new($"owned flow {f} {PayloadSizes[i]} bytes", ClusterFrame(protocol, owned[i], f).Payload(new byte[PayloadSizes[i]]).Build()));
        }
        seeds.Add(new("another node's flow", ClusterFrame(protocol, other[0], TcpFlags.Syn).Build()));
        seeds.Add(new("owned flow vlan", ClusterFrame(protocol, owned[10], TcpFlags.Ack).Vlan(5).Build()));
        seeds.Add(new("owned flow with ip options", ClusterFrame(protocol, owned[11], TcpFlags.Ack).IpOptions(1, 1, 1, 1, 0x94, 4, 0, 0).Build()));
        AddOffloadSeeds(seeds, "owned flow", ClusterFrame(protocol, owned[12], TcpFlags.Psh | TcpFlags.Ack).Payload("data"));
        var quoted = FrameBuilder.Tcp(ClusterFixture.Vip, ClusterFixture.Port, ClusterFixture.ClientIp(owned[0]), ClusterFixture.ClientPort(owned[0])).Build();
        seeds.Add(new("icmp unreachable to the vip", FrameBuilder.Icmp("198.51.100.254", ClusterFixture.Vip).IcmpHeader(3, 4, 0, 1400).Payload(quoted[14..42])
            .EthernetDestination(ClusterFixture.ClusterMac).Build()));
        return seeds;
    }
}

internal static class TestEngineExtensions
{
    /// <summary>One frame straight through the processor (setup frames; their verdict does not matter).</summary>
    public static Verdict Process(this TestEngine engine, byte[] frame, FrameMeta meta = default) => engine.Process(frame.AsSpan(), ref meta);
}
