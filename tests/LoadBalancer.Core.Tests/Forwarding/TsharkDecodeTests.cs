using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding;

/// <summary>Frames produced by the pipeline, written to a classic pcap file by <see cref="PcapWriter"/> and
/// decoded by tshark with checksum validation on: an independent decoder must find the checksums good
/// and the fields where we put them. tshark reports checksum status 1 for "Good" and 0 for "Bad".</summary>
public sealed class TsharkDecodeTests : IDisposable
{
    private const string Good = "1";
    private const string Bad = "0";

    private readonly string _directory = Directory.CreateTempSubdirectory("lb-tshark-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private IReadOnlyList<IReadOnlyDictionary<string, string>> Decode(IEnumerable<byte[]> frames, params string[] fields)
    {
        var path = Path.Combine(_directory, $"{Guid.NewGuid():N}.pcap");
        using (var writer = PcapWriter.Create(path))
            foreach (var f in frames) writer.Write(f);
        return ExternalTools.TsharkFields(path, fields);
    }

    private static string Mac(MacAddress mac) => mac.ToString();

    [Fact]
    public void Tshark_DirectRoutedTcpFrame_DecodesWithGoodChecksumsAndBackendMac()
    {
        var engine = new TestEngine(Fixtures.Config());
        var output = engine.Send(Fixtures.WebTcp(41000).Flags(TcpFlags.Psh | TcpFlags.Ack).IpOptions(0x94, 4, 0, 0).Ttl(33).Build()).Output!;

        var row = Assert.Single(Decode([output],
            "eth.dst", "eth.src", "ip.src", "ip.dst", "ip.ttl", "ip.hdr_len", "ip.checksum.status",
            "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.checksum.status", "tcp.len"));

        Assert.Equal(Mac(Fixtures.WebBackendMac), row["eth.dst"]);
        Assert.Equal(Mac(Fixtures.InterfaceMac), row["eth.src"]);
        Assert.Equal(Fixtures.ClientIp, row["ip.src"]);
        Assert.Equal(Fixtures.WebVip, row["ip.dst"]);
        Assert.Equal("33", row["ip.ttl"]);
        Assert.Equal("24", row["ip.hdr_len"]);
        Assert.Equal(Good, row["ip.checksum.status"]);
        Assert.Equal("41000", row["tcp.srcport"]);
        Assert.Equal("80", row["tcp.dstport"]);
        Assert.Equal("0x0018", row["tcp.flags"]);
        Assert.Equal(Good, row["tcp.checksum.status"]);
        Assert.Equal("18", row["tcp.len"]);
    }

    [Fact]
    public void Tshark_ArpReplyFromResponder_DecodesAsReplyForVip()
    {
        var engine = new TestEngine(Fixtures.Config());
        var frame = FrameBuilder.ArpRequest(Fixtures.ClientMac, Fixtures.ClientIp, Fixtures.PoolVip);
        Assert.Equal(ArpAction.Reply, engine.HandleArp(frame));

        var row = Assert.Single(Decode([frame],
            "eth.dst", "eth.src", "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4"));

        Assert.Equal(Mac(Fixtures.ClientMac), row["eth.dst"]);
        Assert.Equal(Mac(Fixtures.InterfaceMac), row["eth.src"]);
        Assert.Equal("2", row["arp.opcode"]);
        Assert.Equal(Mac(Fixtures.InterfaceMac), row["arp.src.hw_mac"]);
        Assert.Equal(Fixtures.PoolVip, row["arp.src.proto_ipv4"]);
        Assert.Equal(Mac(Fixtures.ClientMac), row["arp.dst.hw_mac"]);
        Assert.Equal(Fixtures.ClientIp, row["arp.dst.proto_ipv4"]);
    }

    [Fact]
    public void Tshark_CompletedPartialChecksums_AreReportedGood()
    {
        var engine = new TestEngine(Fixtures.Config());
        var notReady = new FrameMeta { ChecksumNotReady = true };
        var tcp = Fixtures.WebTcp(42000).Payload(new byte[777]).L4Checksum(ChecksumMode.Partial);
        var tcpVlan = Fixtures.WebTcp(42001).Vlan(77).Payload("abc").PadTo(80, 0xEE).L4Checksum(ChecksumMode.Partial);
        var udp = FrameBuilder.Udp(Fixtures.ClientIp, 42002, Fixtures.WebVip, Fixtures.DnsPort).Payload("hello, dns").L4Checksum(ChecksumMode.Partial);
        var vnetTcp = Fixtures.WebTcp(42003).Payload("vnet").L4Checksum(ChecksumMode.Partial);
        var vnet = new FrameMeta
        {
            Vnet = new VnetHeader { Flags = VnetHeader.FlagNeedsChecksum, ChecksumStart = (ushort)vnetTcp.L4Offset, ChecksumOffset = 16 },
        };

        var inputs = new[] { tcp.Build(), tcpVlan.Build(), udp.Build(), vnetTcp.Build() };
        // Before completion tshark must see the partial sums as bad checksums (the control).
        var before = Decode(inputs, "tcp.checksum.status", "udp.checksum.status");
        Assert.All(before, r => Assert.Equal(Bad, r["tcp.checksum.status"] + r["udp.checksum.status"]));

        var outputs = new[]
        {
            engine.Send(inputs[0], notReady).Output!,
            engine.Send(inputs[1], notReady).Output!,
            engine.Send(inputs[2], notReady).Output!,
            engine.Send(inputs[3], vnet).Output!,
        };
        var rows = Decode(outputs, "eth.dst", "vlan.id", "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "tcp.srcport", "udp.srcport");

        Assert.Equal(4, rows.Count);
        Assert.All(rows, r => Assert.Equal(Good, r["ip.checksum.status"]));
        Assert.Equal(Good, rows[0]["tcp.checksum.status"]);
        Assert.Equal("42000", rows[0]["tcp.srcport"]);
        Assert.Equal(Good, rows[1]["tcp.checksum.status"]);
        Assert.Equal("77", rows[1]["vlan.id"]);
        Assert.Equal(Good, rows[2]["udp.checksum.status"]);
        Assert.Equal("42002", rows[2]["udp.srcport"]);
        Assert.Equal(Mac(Fixtures.DnsBackendMac), rows[2]["eth.dst"]);
        Assert.Equal(Good, rows[3]["tcp.checksum.status"]);
    }

    [Fact]
    public void Tshark_ForwardedCorruptChecksum_IsReportedBad()
    {
        // DR leaves checksums alone: a bad one stays bad (and proves tshark is really checking).
        var engine = new TestEngine(Fixtures.Config());
        var output = engine.Send(Fixtures.WebTcp(43000).L4Checksum(ChecksumMode.Corrupt).Build()).Output!;

        var row = Assert.Single(Decode([output], "ip.checksum.status", "tcp.checksum.status"));

        Assert.Equal(Good, row["ip.checksum.status"]);
        Assert.Equal(Bad, row["tcp.checksum.status"]);
    }

    [Fact]
    public void Tshark_FrameBuilderFrames_DecodeWithGoodChecksumsAndFragmentFields()
    {
        var frames = new[]
        {
            FrameBuilder.Tcp("192.0.2.1", 1000, "10.0.0.1", 2000).Flags(TcpFlags.Syn).TcpOptions(2, 4, 5, 0xb4).Build(),
            FrameBuilder.Udp("192.0.2.1", 1000, "10.0.0.1", 2000).Vlan(9).Payload("x").Build(),
            FrameBuilder.Icmp("192.0.2.1", "10.0.0.1").IcmpHeader(8, 0, 1, 2).Payload("ping").Build(),
            FrameBuilder.Ipv4Raw("192.0.2.1", "10.0.0.1", 17).Payload(new byte[16]).Identification(9).Fragment(true, 1480).Build(),
        };

        var rows = Decode(frames, "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "icmp.checksum.status",
            "ip.flags.mf", "ip.frag_offset", "tcp.options.mss_val");

        Assert.All(rows, r => Assert.Equal(Good, r["ip.checksum.status"]));
        Assert.Equal(Good, rows[0]["tcp.checksum.status"]);
        Assert.Equal("1460", rows[0]["tcp.options.mss_val"]);
        Assert.Equal(Good, rows[1]["udp.checksum.status"]);
        Assert.Equal(Good, rows[2]["icmp.checksum.status"]);
        Assert.Equal("1", rows[3]["ip.flags.mf"]);
        // tshark 4.0 (Debian 12) shows the raw field in 8-byte units; some versions show bytes.
        Assert.Contains(rows[3]["ip.frag_offset"], new[] { "185", "1480" });
    }
}
