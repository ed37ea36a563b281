using System.Net;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.TestKit;

/// <summary>One packet-in/packet-out case (in the style of Katran's test fixtures): a frame and its frame
/// metadata go in; the verdict, the drop reason and, for transmitted frames, the exact output bytes are
/// expected. Each table names the world its cases run against (<see cref="Fixtures.Config"/>,
/// <see cref="NatFixture"/>, <see cref="ClusterFixture"/>). <paramref name="Setup"/> frames (from the client
/// side) go first, for cases that need state (a NAT session, a remembered flow); a table's cases use distinct
/// flows, so they can also run one after another in one engine, as the benchmarks do.</summary>
public sealed record PacketCase(
    string Description,
    byte[] Input,
    FrameMeta Meta,
    Verdict ExpectedVerdict,
    DropReason ExpectedDrop = DropReason.None,
    byte[]? ExpectedOutput = null,
    IReadOnlyList<byte[]>? Setup = null)
{
    public override string ToString() => Description;
}

/// <summary>The shared test world: one interface, a handful of services and their backends, and the
/// packet cases run against them by the unit tests and the benchmarks.</summary>
public static class Fixtures
{
    public const string InterfaceName = "eth0";
    public static readonly MacAddress InterfaceMac = MacAddress.Parse("02:00:00:00:00:fe");
    public const string InterfaceIp = "10.0.0.2";
    public static readonly IReadOnlyList<TestInterface> Interfaces =
        [new TestInterface(InterfaceName, InterfaceMac, FrameBuilder.Ip(InterfaceIp))];

    /// <summary>A second interface, "eth1" at 10.1.0.254, for backends behind another port.</summary>
    public static readonly TestInterface Eth1 = new("eth1", MacAddress.Parse("02:00:00:00:01:fe"), FrameBuilder.Ip("10.1.0.254"));

    public const string ClientIp = "192.0.2.10";
    public static readonly MacAddress ClientMac = MacAddress.Parse("02:00:00:00:aa:01");
    public static readonly MacAddress RouterMac = FrameBuilder.DefaultSourceMac;

    /// <summary>"web": TCP 10.0.0.100:80, one backend.</summary>
    public const string WebVip = "10.0.0.100";
    public const ushort WebPort = 80;
    public static readonly MacAddress WebBackendMac = MacAddress.Parse("02:00:00:00:01:01");
    /// <summary>"dns": UDP 10.0.0.100:53, one backend.</summary>
    public const ushort DnsPort = 53;
    public static readonly MacAddress DnsBackendMac = MacAddress.Parse("02:00:00:00:01:02");
    /// <summary>"pool": TCP 10.0.0.101:443, four backends pool-1..pool-4 at 10.0.2.1-4.</summary>
    public const string PoolVip = "10.0.0.101";
    public const ushort PoolPort = 443;
    public const int PoolSize = 4;
    /// <summary>"dark": TCP 10.0.0.102:80, one backend with no static MAC (unresolved until ARP learns it).</summary>
    public const string DarkVip = "10.0.0.102";
    public const string DarkBackendIp = "10.0.3.1";
    /// <summary>"drained": TCP 10.0.0.103:80, one backend of weight 0 (an empty Maglev table).</summary>
    public const string DrainedVip = "10.0.0.103";

    /// <summary>The two-armed NAT world: clients on "front" (10.99.1.10), backends on "back" (10.99.4.1).</summary>
    public static readonly MacAddress NatFrontMac = MacAddress.Parse("02:00:00:00:0f:01");
    public static readonly MacAddress NatBackMac = MacAddress.Parse("02:00:00:00:0b:01");
    public static readonly IReadOnlyList<TestInterface> NatInterfaces =
    [
        new TestInterface("front", NatFrontMac, FrameBuilder.Ip("10.99.1.10")),
        new TestInterface("back", NatBackMac, FrameBuilder.Ip("10.99.4.1")),
    ];

    public static MacAddress PoolBackendMac(int i) => new(0x02_00_00_00_02_00UL + (ulong)i);
    public static string PoolBackendIp(int i) => $"10.0.2.{i}";

    public static BackendConfig Backend(string name, string address, MacAddress? mac, int weight = BackendConfig.DefaultWeight) =>
        new() { Name = name, Address = IPAddress.Parse(address), Mac = mac, Weight = weight };

    public static ServiceConfig Service(string name, string vip, ushort port, TransportProtocol protocol, params BackendConfig[] backends) =>
        new() { Name = name, Vip = IPAddress.Parse(vip), Port = port, Protocol = protocol, Interface = InterfaceName, Backends = backends };

    /// <summary>The "pool" service with the given backends (numbers 1..n pick pool-n), weights by number.</summary>
    public static ServiceConfig Pool(IEnumerable<int> members, Func<int, int>? weight = null) =>
        Service("pool", PoolVip, PoolPort, TransportProtocol.Tcp,
            members.Select(i => Backend($"pool-{i}", PoolBackendIp(i), PoolBackendMac(i), weight?.Invoke(i) ?? BackendConfig.DefaultWeight)).ToArray());

    public static BalancerConfig Config(ServiceConfig? pool = null) => new()
    {
        FlowTableSize = 8192,
        Services =
        [
            Service("web", WebVip, WebPort, TransportProtocol.Tcp, Backend("web-1", "10.0.1.1", WebBackendMac)),
            Service("dns", WebVip, DnsPort, TransportProtocol.Udp, Backend("dns-1", "10.0.1.2", DnsBackendMac)),
            pool ?? Pool(Enumerable.Range(1, PoolSize)),
            Service("dark", DarkVip, 80, TransportProtocol.Tcp, Backend("dark-1", DarkBackendIp, null)),
            Service("drained", DrainedVip, 80, TransportProtocol.Tcp, Backend("drained-1", "10.0.4.1", MacAddress.Parse("02:00:00:00:04:01"), 0)),
        ],
    };

    /// <summary>A TCP segment from the client to the "web" service.</summary>
    public static FrameBuilder WebTcp(ushort clientPort = 40000) =>
        FrameBuilder.Tcp(ClientIp, clientPort, WebVip, WebPort).Sequence(1000, 2000).Payload("GET / HTTP/1.0\r\n\r\n");

    /// <summary>Distinct TCP flows to the "pool" service (client ports and addresses vary).</summary>
    public static byte[][] PoolFlows(int count, TcpFlags flags = TcpFlags.Ack)
    {
        var frames = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            frames[i] = FrameBuilder.Tcp($"198.51.100.{1 + i / 16000 % 250}", (ushort)(10000 + i % 16000), PoolVip, PoolPort)
                .Flags(flags).Sequence((uint)i * 7919, 1).Payload("x")
                .Build();
        }
        return frames;
    }

    private static PacketCase Forwarded(string description, FrameBuilder builder, MacAddress backendMac, FrameMeta meta = default)
    {
        var input = builder.Build();
        return new PacketCase(description, input, meta, Verdict.Transmit, DropReason.None,
            FrameBuilder.WithMacs(input, backendMac, InterfaceMac));
    }

    private static PacketCase Dropped(string description, byte[] input, DropReason reason, FrameMeta meta = default) =>
        new(description, input, meta, Verdict.Drop, reason);

    private static PacketCase Passed(string description, byte[] input, FrameMeta meta = default) =>
        new(description, input, meta, Verdict.Pass);

    /// <summary>The packet cases. Each call builds fresh arrays, so callers may modify them.</summary>
    public static IReadOnlyList<PacketCase> Cases() => BuildCases();

    public static PacketCase Case(string description) =>
        Cases().SingleOrDefault(c => c.Description == description)
        ?? throw new ArgumentException($"no fixture '{description}'", nameof(description));

    private static List<PacketCase> BuildCases()
    {
        var partial = WebTcp(40010).Flags(TcpFlags.Psh | TcpFlags.Ack);
        var completed = partial.Clone().L4Checksum(ChecksumMode.Correct).Build();
        var partialUdp = FrameBuilder.Udp(ClientIp, 5353, WebVip, DnsPort).Payload("query").L4Checksum(ChecksumMode.Partial);
        var completedUdp = partialUdp.Clone().L4Checksum(ChecksumMode.Correct).Build();
        var padded = WebTcp(40011).Flags(TcpFlags.Syn).Payload([]).PadTo(60, 0xA5);

        var cases = new List<PacketCase>
        {
            Forwarded("tcp syn to web is forwarded to web-1", WebTcp(40001).Flags(TcpFlags.Syn).Payload([]), WebBackendMac),
            Forwarded("tcp data to web is forwarded", WebTcp(40002).Flags(TcpFlags.Psh | TcpFlags.Ack), WebBackendMac),
            Forwarded("vlan-tagged tcp keeps its tag", WebTcp(40003).Vlan(100, 3), WebBackendMac),
            Forwarded("ipv4 options are kept", WebTcp(40004).IpOptions(0x94, 0x04, 0x00, 0x00), WebBackendMac),
            Forwarded("tcp options are kept", WebTcp(40005).Flags(TcpFlags.Syn).TcpOptions(2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2), WebBackendMac),
            Forwarded("udp to dns is forwarded to dns-1", FrameBuilder.Udp(ClientIp, 5353, WebVip, DnsPort).Payload("query"), DnsBackendMac),
            Forwarded("udp without checksum is forwarded", FrameBuilder.Udp(ClientIp, 5354, WebVip, DnsPort).Payload("q").L4Checksum(ChecksumMode.Zero), DnsBackendMac),
            Forwarded("ttl 1 is forwarded untouched", WebTcp(40006).Ttl(1), WebBackendMac),
            Forwarded("bad tcp checksum is forwarded untouched", WebTcp(40007).L4Checksum(ChecksumMode.Corrupt), WebBackendMac),
            Forwarded("bad ip checksum is forwarded untouched", WebTcp(40008).IpChecksum(ChecksumMode.Corrupt), WebBackendMac),
            Forwarded("ethernet padding is kept", padded, WebBackendMac),
            Forwarded("dont-fragment is not a fragment", WebTcp(40009).DontFragment(), WebBackendMac),
            new("partial tcp checksum is completed", partial.Clone().L4Checksum(ChecksumMode.Partial).Build(),
                new FrameMeta { ChecksumNotReady = true }, Verdict.Transmit, DropReason.None,
                FrameBuilder.WithMacs(completed, WebBackendMac, InterfaceMac)),
            new("partial udp checksum is completed", partialUdp.Build(),
                new FrameMeta { ChecksumNotReady = true }, Verdict.Transmit, DropReason.None,
                FrameBuilder.WithMacs(completedUdp, DnsBackendMac, InterfaceMac)),

            Passed("tcp to a vip on another port passes", FrameBuilder.Tcp(ClientIp, 40000, WebVip, 8080).Build()),
            Passed("tcp to another address passes", FrameBuilder.Tcp(ClientIp, 40000, "10.0.0.2", 22).Build()),
            Passed("udp to the web port passes", FrameBuilder.Udp(ClientIp, 40000, WebVip, WebPort).Build()),
            Passed("icmp echo to a vip passes", FrameBuilder.Icmp(ClientIp, WebVip).IcmpHeader(8, 0, 7, 1).Payload("ping").Build()),
            Passed("arp passes the packet path", FrameBuilder.ArpRequest(ClientMac, ClientIp, WebVip)),
            Passed("ipv6 passes", FrameBuilder.Ipv6()),
            Passed("our own transmissions pass", WebTcp(40000).Build(), new FrameMeta { PacketType = PacketType.Outgoing }),
            Passed("a frame for another host's MAC passes (a switch flooded it)", WebTcp(40000).Build(), new FrameMeta { PacketType = PacketType.OtherHost }),
            Passed("a vip's frame on another interface than its service's passes", WebTcp(40000).Build(), new FrameMeta { IngressInterface = 1 }),
            Passed("a frame whose vlan tag the nic stripped passes (it would leave untagged)", WebTcp(40000).Build(), new FrameMeta { VlanStripped = true }),
            Passed("fragment to another address passes", FrameBuilder.Tcp(ClientIp, 1, "10.9.9.9", 80).Fragment(true, 0).Build()),

            Dropped("first fragment to a vip is dropped", WebTcp(40000).Fragment(true, 0).Build(), DropReason.Ipv4Fragment),
            Dropped("later fragment to a vip is dropped", FrameBuilder.Ipv4Raw(ClientIp, WebVip, 6).Payload(new byte[16]).Fragment(false, 1480).Build(), DropReason.Ipv4Fragment),
            Dropped("short ethernet frame is dropped", new byte[10], DropReason.EthernetTruncated),
            Dropped("cut vlan tag is dropped", WebTcp().Vlan(5).Build()[..16], DropReason.VlanTruncated),
            Dropped("cut ipv4 header is dropped", WebTcp().Build()[..30], DropReason.Ipv4Truncated),
            Dropped("ip version 5 is dropped", WebTcp().IpVersion(5).Build(), DropReason.Ipv4BadVersion),
            Dropped("ihl below 5 is dropped", WebTcp().IhlWords(4).Build(), DropReason.Ipv4BadHeaderLength),
            Dropped("total length below header is dropped", WebTcp().TotalLength(19).Build(), DropReason.Ipv4BadTotalLength),
            // BIG TCP GSO frames (> 64 KiB) carry total length 0; the engine does not take them.
            Dropped("total length zero is dropped", WebTcp().TotalLength(0).Build(), DropReason.Ipv4BadTotalLength),
            Dropped("total length beyond frame is dropped", WebTcp().TotalLength(1500).Build(), DropReason.Ipv4Truncated),
            Dropped("cut tcp header is dropped", FrameBuilder.Ipv4Raw(ClientIp, WebVip, 6).Payload(0x9c, 0x40, 0, 80, 0, 0, 0, 1).Build(), DropReason.TcpTruncated),
            Dropped("tcp data offset below 5 is dropped", WebTcp().DataOffsetWords(4).Build(), DropReason.TcpBadDataOffset),
            Dropped("tcp data offset beyond segment is dropped", WebTcp().Payload([]).DataOffsetWords(15).Build(), DropReason.TcpTruncated),
            Dropped("cut udp header is dropped", FrameBuilder.Ipv4Raw(ClientIp, WebVip, 17).Payload(0x14, 0xe9, 0, 53).Build(), DropReason.UdpTruncated),
            Dropped("udp length beyond datagram is dropped", FrameBuilder.Udp(ClientIp, 5353, WebVip, DnsPort).Payload("q").UdpLength(200).Build(), DropReason.UdpBadLength),
            Dropped("udp length below header is dropped", FrameBuilder.Udp(ClientIp, 5353, WebVip, DnsPort).Payload("q").UdpLength(7).Build(), DropReason.UdpBadLength),
            Dropped("backend without mac is dropped", FrameBuilder.Tcp(ClientIp, 40000, DarkVip, 80).Build(), DropReason.BackendMacUnresolved),
            Dropped("service without weight is dropped", FrameBuilder.Tcp(ClientIp, 40000, DrainedVip, 80).Build(), DropReason.NoBackend),
            Dropped("ring-truncated frame is dropped", WebTcp().Build(), DropReason.RingTruncated, new FrameMeta { Truncated = true }),
            // A ring slot shorter than the frame: the bytes stop before the IPv4 total length says.
            Dropped("ring-cut jumbo frame to a vip is dropped", WebTcp().Payload(new byte[8000]).Build()[..2048], DropReason.RingTruncated, new FrameMeta { Truncated = true }),
            Dropped("ring-cut frame inside the ip header is dropped", WebTcp().Build()[..24], DropReason.RingTruncated, new FrameMeta { Truncated = true }),
            Passed("ring-cut jumbo frame to another address passes", FrameBuilder.Tcp(ClientIp, 40000, "10.0.0.2", 22).Payload(new byte[8000]).Build()[..2048], new FrameMeta { Truncated = true }),
            Dropped("checksum offset past the frame is dropped", WebTcp().L4Checksum(ChecksumMode.Partial).Build(), DropReason.ChecksumOffsetInvalid,
                new FrameMeta { Vnet = new VnetHeader { Flags = VnetHeader.FlagNeedsChecksum, ChecksumStart = 200, ChecksumOffset = 16 } }),
        };
        return cases;
    }
}

/// <summary>Runs packet cases: the case's setup frames first, then its input.</summary>
public static class PacketCases
{
    /// <summary>The cases' descriptions, as theory data (one test per case).</summary>
    public static Xunit.TheoryData<string> Names(IReadOnlyList<PacketCase> cases)
    {
        var data = new Xunit.TheoryData<string>();
        foreach (var c in cases) data.Add(c.Description);
        return data;
    }

    /// <summary>Every setup first, then every case twice, in one engine (as a benchmark cycles through them):
    /// the first mismatch, or null when each case gave its verdict each time.</summary>
    public static string? MismatchInOneEngine(TestEngine engine, IReadOnlyList<PacketCase> cases)
    {
        foreach (var c in cases)
            foreach (var frame in c.Setup ?? []) engine.Send(frame);
        for (var round = 0; round < 2; round++)
        {
            // A round later than the per-source limit on the ICMP errors the engine builds, so both rounds get theirs.
            if (round > 0) engine.Clock.Advance(Core.Forwarding.IcmpRateLimit.IntervalMs);
            foreach (var c in cases)
                if (Mismatch(c, engine.Send(c.Input, c.Meta)) is { } problem) return $"round {round + 1}: {problem}";
        }
        return null;
    }

    /// <summary>What is wrong with a table itself: a repeated description, a transmit without an expected output
    /// (or an output expected of anything else), a drop without a reason.</summary>
    public static string? TableProblem(IReadOnlyList<PacketCase> cases)
    {
        if (cases.Select(c => c.Description).Distinct().Count() != cases.Count) return "descriptions repeat";
        foreach (var c in cases)
        {
            if ((c.ExpectedVerdict == Verdict.Transmit) != (c.ExpectedOutput is not null)) return $"'{c.Description}': output and verdict disagree";
            if ((c.ExpectedVerdict == Verdict.Drop) != (c.ExpectedDrop != DropReason.None)) return $"'{c.Description}': drop reason and verdict disagree";
        }
        return null;
    }

    public static EngineResult Run(TestEngine engine, PacketCase @case)
    {
        foreach (var frame in @case.Setup ?? []) engine.Send(frame);
        return engine.Send(@case.Input, @case.Meta);
    }

    /// <summary>Why <paramref name="result"/> is not what <paramref name="case"/> expects, or null.</summary>
    public static string? Mismatch(PacketCase @case, EngineResult result)
    {
        if (result.Verdict != @case.ExpectedVerdict || result.Drop != @case.ExpectedDrop)
            return $"'{@case.Description}' gave {result}, expected {@case.ExpectedVerdict} {@case.ExpectedDrop}";
        if (@case.ExpectedOutput is { } expected && (result.Output is null || !result.Output.AsSpan().SequenceEqual(expected)))
            return $"'{@case.Description}' sent\n{FrameBuilder.Hex(result.Output)}\nexpected\n{FrameBuilder.Hex(expected)}";
        return null;
    }
}
