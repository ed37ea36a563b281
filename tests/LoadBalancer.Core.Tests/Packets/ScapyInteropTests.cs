using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Packets;

/// <summary>Frames built by scapy (an independent encoder), printed as hex by Debian's python, once per class.</summary>
public sealed class ScapyFrames
{
    private const string Script = """
        import sys
        from scapy.all import Ether, Dot1Q, IP, TCP, UDP, ICMP, ARP, Raw, IPOption_Router_Alert, fragment
        CLIENT_MAC = '02:00:00:00:aa:01'
        OUR_MAC = '02:00:00:00:00:fe'
        def eth():
            return Ether(dst=OUR_MAC, src=CLIENT_MAC)
        tcp_opts = [('MSS', 1460), ('NOP', None), ('WScale', 7), ('SAckOK', b''), ('Timestamp', (123, 456))]
        frames = {
            'tcp_syn': eth()/IP(src='192.0.2.10', dst='10.0.0.100', ttl=57, id=0x1234, tos=0x10, flags='DF')
                /TCP(sport=40000, dport=80, seq=0xdeadbeef, flags='S', window=64240, options=tcp_opts),
            'tcp_vlan': eth()/Dot1Q(vlan=300, prio=2)/IP(src='192.0.2.11', dst='10.0.0.101')
                /TCP(sport=40001, dport=443, seq=1, ack=2, flags='PA')/Raw(b'hello world'),
            'udp': eth()/IP(src='192.0.2.12', dst='10.0.0.100')/UDP(sport=5353, dport=53)/Raw(b'abc'),
            'ip_options': eth()/IP(src='192.0.2.13', dst='10.0.0.100', options=[IPOption_Router_Alert()])/UDP(sport=1, dport=2)/Raw(b'opt'),
            'icmp': eth()/IP(src='192.0.2.14', dst='10.0.0.100')/ICMP(type=8, id=0x4242, seq=3)/Raw(b'ping'),
            'arp_request': Ether(dst='ff:ff:ff:ff:ff:ff', src=CLIENT_MAC)/ARP(op=1, hwsrc=CLIENT_MAC, psrc='192.0.2.1', pdst='10.0.0.100'),
            'arp_reply': Ether(dst=CLIENT_MAC, src=OUR_MAC)/ARP(op=2, hwsrc=OUR_MAC, psrc='10.0.0.100', hwdst=CLIENT_MAC, pdst='192.0.2.1'),
            # Exactly what FrameBuilder is asked for in the comparison test.
            'cmp_tcp': eth()/IP(src='192.0.2.10', dst='10.0.0.100', id=1, ttl=64)
                /TCP(sport=40000, dport=80, seq=1000, ack=2000, flags='PA', window=8192)/Raw(b'GET / HTTP/1.0\r\n\r\n'),
            'cmp_tcp_options': eth()/Dot1Q(vlan=100, prio=3)/IP(src='192.0.2.10', dst='10.0.0.100', id=7, ttl=9, flags='DF', options=[IPOption_Router_Alert()])
                /TCP(sport=40000, dport=80, seq=5, flags='S', window=8192, options=[('MSS', 1460), ('NOP', None), ('WScale', 7)]),
            'cmp_udp': eth()/IP(src='192.0.2.10', dst='10.0.0.100', id=1, ttl=64)/UDP(sport=5353, dport=53)/Raw(b'query'),
            'cmp_icmp': eth()/IP(src='192.0.2.10', dst='10.0.0.100', id=1, ttl=64)/ICMP(type=8, code=0, id=7, seq=1)/Raw(b'ping'),
        }
        for i, f in enumerate(fragment(IP(src='192.0.2.15', dst='10.0.0.100', id=77)/UDP(sport=1, dport=2)/Raw(b'x' * 3000), fragsize=1480)):
            frames['frag%d' % i] = eth()/f
        for name, f in frames.items():
            sys.stdout.write('%s %s\n' % (name, bytes(f).hex()))
        """;

    public ScapyFrames() => Frames = ExternalTools.ParseHexLines(ExternalTools.RunPython(Script));

    public IReadOnlyDictionary<string, byte[]> Frames { get; }
}

public class ScapyInteropTests(ScapyFrames scapy) : IClassFixture<ScapyFrames>
{
    private static bool L4ChecksumValid(Ipv4Packet ip)
    {
        var pseudo = Checksum.PseudoHeaderSum(ip.Source, ip.Destination, ip.Protocol, ip.Payload.Length);
        return Checksum.Compute(ip.Payload, pseudo) == 0;
    }

    [Fact]
    public void TryParse_ScapyTcpSynWithOptions_ReadsEveryField()
    {
        var frame = scapy.Frames["tcp_syn"];

        Assert.Equal(DropReason.None, EthernetFrame.TryParse(frame, out var eth));
        Assert.Equal(Fixtures.ClientMac, eth.Source);
        Assert.Equal(Fixtures.InterfaceMac, eth.Destination);
        Assert.Equal(DropReason.None, Ipv4Packet.TryParse(eth.Payload, out var ip));
        Assert.Equal(Ipv4.Parse("192.0.2.10"), ip.Source);
        Assert.Equal(Ipv4.Parse("10.0.0.100"), ip.Destination);
        Assert.Equal(57, ip.TimeToLive);
        Assert.Equal(0x1234, ip.Identification);
        Assert.Equal(0x10, ip.TypeOfService);
        Assert.True(ip.DontFragment);
        Assert.False(ip.IsFragment);
        Assert.True(ip.HeaderChecksumValid);
        Assert.Equal(DropReason.None, TcpSegment.TryParse(ip.Payload, out var tcp));
        Assert.Equal(40000, tcp.SourcePort);
        Assert.Equal(80, tcp.DestinationPort);
        Assert.Equal(0xDEADBEEFu, tcp.SequenceNumber);
        Assert.Equal(TcpFlags.Syn, tcp.Flags);
        Assert.Equal(40, tcp.HeaderLength); // 20 + MSS 4 + NOP 1 + WScale 3 + SAckOK 2 + Timestamp 10
        Assert.Equal(0, tcp.Payload.Length);
        Assert.Equal(2, tcp.Bytes[20]);      // first option: MSS
        Assert.True(L4ChecksumValid(ip));
    }

    [Fact]
    public void TryParse_ScapyVlanTcp_ReadsTagPortsFlagsAndPayload()
    {
        var frame = scapy.Frames["tcp_vlan"];

        Assert.Equal(DropReason.None, EthernetFrame.TryParse(frame, out var eth));
        Assert.Equal(300, eth.VlanId);
        Assert.Equal(18, eth.PayloadOffset);
        Assert.Equal(DropReason.None, Ipv4Packet.TryParse(eth.Payload, out var ip));
        Assert.Equal(Ipv4.Parse("10.0.0.101"), ip.Destination);
        Assert.Equal(DropReason.None, TcpSegment.TryParse(ip.Payload, out var tcp));
        Assert.Equal(443, tcp.DestinationPort);
        Assert.Equal(1u, tcp.SequenceNumber);
        Assert.Equal(2u, tcp.AcknowledgementNumber);
        Assert.Equal(TcpFlags.Psh | TcpFlags.Ack, tcp.Flags);
        Assert.Equal("hello world"u8.ToArray(), tcp.Payload.ToArray());
        Assert.True(ip.HeaderChecksumValid);
        Assert.True(L4ChecksumValid(ip));
    }

    [Fact]
    public void TryParse_ScapyUdp_ReadsPortsLengthAndValidChecksum()
    {
        var frame = scapy.Frames["udp"];

        EthernetFrame.TryParse(frame, out var eth);
        Assert.Equal(DropReason.None, Ipv4Packet.TryParse(eth.Payload, out var ip));
        Assert.Equal(IpProtocols.Udp, ip.Protocol);
        Assert.Equal(DropReason.None, UdpDatagram.TryParse(ip.Payload, out var udp));
        Assert.Equal(5353, udp.SourcePort);
        Assert.Equal(53, udp.DestinationPort);
        Assert.Equal(11, udp.Length);
        Assert.NotEqual(0, udp.Checksum);
        Assert.True(L4ChecksumValid(ip));
        // Scapy pads nothing here, but the frame may be shorter than 60: the datagram is all of it.
        Assert.Equal(frame.Length - 14, ip.TotalLength);
    }

    [Fact]
    public void TryParse_ScapyIpOptions_HeaderLengthIncludesRouterAlert()
    {
        var frame = scapy.Frames["ip_options"];

        EthernetFrame.TryParse(frame, out var eth);
        Assert.Equal(DropReason.None, Ipv4Packet.TryParse(eth.Payload, out var ip));
        Assert.True(ip.HasOptions);
        Assert.Equal(24, ip.HeaderLength);
        Assert.Equal(0x94, ip.Header[20]);
        Assert.True(ip.HeaderChecksumValid);
        Assert.Equal(DropReason.None, UdpDatagram.TryParse(ip.Payload, out var udp));
        Assert.Equal(2, udp.DestinationPort);
        Assert.True(L4ChecksumValid(ip));
    }

    [Fact]
    public void TryParse_ScapyFragments_RecognisesFlagsAndOffsets()
    {
        var expected = new[] { (true, 0), (true, 1480), (false, 2960) };
        for (var i = 0; i < expected.Length; i++)
        {
            var frame = scapy.Frames[$"frag{i}"];
            EthernetFrame.TryParse(frame, out var eth);

            Assert.Equal(DropReason.None, Ipv4Packet.TryParse(eth.Payload, out var ip));

            Assert.True(ip.IsFragment);
            Assert.Equal(expected[i].Item1, ip.MoreFragments);
            Assert.Equal(expected[i].Item2, ip.FragmentOffset);
            Assert.Equal(77, ip.Identification);
            Assert.True(ip.HeaderChecksumValid);
        }
        Assert.False(scapy.Frames.ContainsKey("frag3"));
    }

    [Fact]
    public void TryParse_ScapyIcmpEcho_ReadsTypeIdentifierAndValidChecksum()
    {
        var frame = scapy.Frames["icmp"];

        EthernetFrame.TryParse(frame, out var eth);
        Ipv4Packet.TryParse(eth.Payload, out var ip);
        Assert.Equal(DropReason.None, IcmpMessage.TryParse(ip.Payload, out var icmp));
        Assert.Equal(8, icmp.Type);
        Assert.Equal(0x4242, icmp.Identifier);
        Assert.Equal("ping"u8.ToArray(), icmp.Body.ToArray());
        Assert.Equal(0, Checksum.Compute(ip.Payload));
    }

    [Fact]
    public void TryParse_ScapyArpRequestAndReply_ReadsAddresses()
    {
        EthernetFrame.TryParse(scapy.Frames["arp_request"], out var eth);
        Assert.Equal(EtherTypes.Arp, eth.EtherType);
        Assert.Equal(MacAddress.Broadcast, eth.Destination);
        Assert.Equal(DropReason.None, ArpPacket.TryParse(eth.Payload, out var request));
        Assert.Equal(ArpPacket.OperationRequest, request.Operation);
        Assert.Equal(Fixtures.ClientMac, request.SenderHardwareAddress);
        Assert.Equal(Ipv4.Parse("192.0.2.1"), request.SenderProtocolAddress);
        Assert.Equal(Ipv4.Parse("10.0.0.100"), request.TargetProtocolAddress);

        EthernetFrame.TryParse(scapy.Frames["arp_reply"], out var eth2);
        Assert.Equal(DropReason.None, ArpPacket.TryParse(eth2.Payload, out var reply));
        Assert.Equal(ArpPacket.OperationReply, reply.Operation);
        Assert.Equal(Fixtures.InterfaceMac, reply.SenderHardwareAddress);
        Assert.Equal(Fixtures.ClientMac, reply.TargetHardwareAddress);
    }

    [Fact]
    public void ArpWriteFrame_Reply_MatchesScapyBytes()
    {
        var buffer = new byte[42];

        ArpPacket.WriteFrame(buffer, ArpPacket.OperationReply, Fixtures.ClientMac, Fixtures.InterfaceMac,
            Ipv4.Parse("10.0.0.100"), Fixtures.ClientMac, Ipv4.Parse("192.0.2.1"));

        Assert.Equal(FrameBuilder.Hex(scapy.Frames["arp_reply"]), FrameBuilder.Hex(buffer));
    }

    [Fact]
    public void FrameBuilder_SameTcpFields_MatchesScapyBytes()
    {
        var ours = FrameBuilder.Tcp("192.0.2.10", 40000, "10.0.0.100", 80)
            .Identification(1).Ttl(64).Sequence(1000, 2000).Flags(TcpFlags.Psh | TcpFlags.Ack).Window(8192)
            .Payload("GET / HTTP/1.0\r\n\r\n").Build();

        Assert.Equal(FrameBuilder.Hex(scapy.Frames["cmp_tcp"]), FrameBuilder.Hex(ours));
    }

    [Fact]
    public void FrameBuilder_VlanIpOptionsTcpOptions_MatchesScapyBytes()
    {
        var ours = FrameBuilder.Tcp("192.0.2.10", 40000, "10.0.0.100", 80)
            .Vlan(100, priority: 3).Identification(7).Ttl(9).DontFragment().IpOptions(0x94, 0x04, 0x00, 0x00)
            .Sequence(5).Flags(TcpFlags.Syn).Window(8192).TcpOptions(2, 4, 0x05, 0xb4, 1, 3, 3, 7).Build();

        Assert.Equal(FrameBuilder.Hex(scapy.Frames["cmp_tcp_options"]), FrameBuilder.Hex(ours));
    }

    [Fact]
    public void FrameBuilder_SameUdpFields_MatchesScapyBytes()
    {
        var ours = FrameBuilder.Udp("192.0.2.10", 5353, "10.0.0.100", 53).Identification(1).Ttl(64).Payload("query").Build();

        Assert.Equal(FrameBuilder.Hex(scapy.Frames["cmp_udp"]), FrameBuilder.Hex(ours));
    }

    [Fact]
    public void FrameBuilder_SameIcmpFields_MatchesScapyBytes()
    {
        var ours = FrameBuilder.Icmp("192.0.2.10", "10.0.0.100").Identification(1).Ttl(64).IcmpHeader(8, 0, 7, 1).Payload("ping").Build();

        Assert.Equal(FrameBuilder.Hex(scapy.Frames["cmp_icmp"]), FrameBuilder.Hex(ours));
    }

    [Fact]
    public void FrameBuilder_ArpRequest_MatchesScapyBytes()
    {
        var ours = FrameBuilder.ArpRequest(Fixtures.ClientMac, "192.0.2.1", "10.0.0.100");

        Assert.Equal(FrameBuilder.Hex(scapy.Frames["arp_request"]), FrameBuilder.Hex(ours));
    }

    [Fact]
    public void Process_ScapyFrames_ForwardedOrRefusedAsExpected()
    {
        var engine = new TestEngine(Fixtures.Config());

        Assert.Equal(Core.IO.Verdict.Transmit, engine.Send(scapy.Frames["tcp_syn"]).Verdict);
        Assert.Equal(Core.IO.Verdict.Transmit, engine.Send(scapy.Frames["tcp_vlan"]).Verdict);
        Assert.Equal(Core.IO.Verdict.Transmit, engine.Send(scapy.Frames["udp"]).Verdict);
        Assert.Equal(Core.IO.Verdict.Pass, engine.Send(scapy.Frames["icmp"]).Verdict);
        Assert.Equal(Core.IO.Verdict.Pass, engine.Send(scapy.Frames["arp_request"]).Verdict);
        var fragment = engine.Send(scapy.Frames["frag0"]);
        Assert.Equal(DropReason.Ipv4Fragment, fragment.Drop);
    }
}
