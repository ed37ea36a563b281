using System.Buffers.Binary;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;
using Xunit.Abstractions;
using N = LoadBalancer.Core.Tests.Forwarding.Nat.Nat66PipelineTests;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>Fuzzing of NAT66 (the two-armed world of <see cref="N"/>, a back-side MTU of 1400 so Packet Too Big is in
/// reach): client frames to live sessions and new ones, backend replies, ICMPv6 errors from either side quoting a
/// session, neighbour discovery, extension chains and fragments, mutated by <see cref="Ipv6Mutations"/>. Every frame
/// must be passed, dropped and counted once, or sent out well formed: to a backend from the client's own address with
/// the hop limit one less, to the client from the VIP (or an ICMPv6 error from whoever sent it), its upper-layer
/// checksum valid exactly when the input's was (incremental updates neither repair nor break one), ICMPv6 checksums
/// always valid (recomputed). A fixed seed and frame count make every run the same run.</summary>
public sealed class Nat66FuzzTests(ITestOutputHelper output)
{
    private const int FrameCount = 300_000;
    private const int BackMtu = 1400;
    private const int Sessions = 16;
    private const ushort TcpSessionPort = 42000, UdpSessionPort = 43000, EchoPort = 5353;
    private static readonly HashSet<MacAddress> BackendMacs = [N.Rs1Mac, N.Rs2Mac];
    private static readonly HashSet<string> Backends = [N.Rs1, N.Rs2];
    private static readonly string[] Addresses = [N.Vip, N.Client, N.Rs1, N.Rs2, N.BackAddress, N.BackRouter, "::", "ff02::1", "2001:db8:2::99"];

    /// <summary>The engine with live sessions, and the frames it sent to open them (to quote in ICMPv6 errors).</summary>
    private static (TestEngine Engine, List<(ushort ClientPort, string Backend, ushort BackendPort, bool Udp, byte[] Sent)> Opened) World()
    {
        var engine = N.Engine(backMtu: BackMtu);
        var opened = new List<(ushort, string, ushort, bool, byte[])>();
        for (var i = 0; i < Sessions; i++)
        {
            var tcp = engine.Send(N.ClientTcp((ushort)(TcpSessionPort + i), TcpFlags.Syn)).Output!;
            opened.Add(((ushort)(TcpSessionPort + i), Destination(tcp, 14), Port(tcp, N.L4 + 2), false, tcp));
            var query = Ipv6FrameBuilder.Udp(N.Client, (ushort)(UdpSessionPort + i), N.Vip, EchoPort).Macs(N.FrontMac, N.RouterMac).Payload("q").Build();
            var udp = engine.Send(query).Output!;
            opened.Add(((ushort)(UdpSessionPort + i), Destination(udp, 14), Port(udp, N.L4 + 2), true, udp));
        }
        if (engine.Processor.Worker.Sessions6!.Count != 2 * Sessions)
            throw new InvalidOperationException($"the NAT66 sessions were not set up: {engine.Processor.Worker.Sessions6.Count} of {2 * Sessions}");
        return (engine, opened);
    }

    private static List<(byte[] Frame, FrameMeta Meta)> Seeds(List<(ushort ClientPort, string Backend, ushort BackendPort, bool Udp, byte[] Sent)> opened)
    {
        var front = default(FrameMeta);
        var back = N.BackSide;
        var seeds = new List<(byte[], FrameMeta)>();
        var sizes = new[] { 0, 5, 100, 1000, 1340, 1346, 1347, 1400 };
        var flags = new[] { TcpFlags.Ack, TcpFlags.Psh | TcpFlags.Ack, TcpFlags.Syn, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.Rst };
        for (var i = 0; i < sizes.Length; i++)
        {
            seeds.Add((N.ClientTcp((ushort)(TcpSessionPort + i), flags[i % flags.Length], payload: sizes[i]), front));
            seeds.Add((Ipv6FrameBuilder.Udp(N.Client, (ushort)(UdpSessionPort + i), N.Vip, EchoPort).Macs(N.FrontMac, N.RouterMac).Payload(new byte[sizes[i]]).Build(), front));
        }
        seeds.Add((N.ClientTcp(41900, TcpFlags.Syn), front));
        seeds.Add((Ipv6FrameBuilder.Tcp(N.Client, TcpSessionPort, N.Vip, 80).Flags(TcpFlags.Ack).Macs(N.FrontMac, N.RouterMac)
            .Extension(Ipv6Packet.HopByHop).Extension(Ipv6Packet.DestinationOptions).Build(), front));
        var chain = Ipv6FrameBuilder.Udp(N.Client, UdpSessionPort, N.Vip, EchoPort).Macs(N.FrontMac, N.RouterMac);
        for (var i = 0; i < 8; i++) chain.Extension(Ipv6Packet.DestinationOptions);
        seeds.Add((chain.Build(), front));
        seeds.Add((chain.Extension(Ipv6Packet.Routing).Build(), front));
        seeds.Add((Ipv6FrameBuilder.Tcp(N.Client, TcpSessionPort, N.Vip, 80).Flags(TcpFlags.Ack).Macs(N.FrontMac, N.RouterMac).Fragment(0, more: true).Payload(new byte[64]).Build(), front));
        seeds.Add((Ipv6FrameBuilder.Tcp(N.Client, TcpSessionPort + 1, N.Vip, 80).Flags(TcpFlags.Ack).Macs(N.FrontMac, N.RouterMac).L4Checksum(ChecksumMode.Partial).Build(),
            new FrameMeta { ChecksumNotReady = true }));
        foreach (var (clientPort, backend, backendPort, udp, sent) in opened.Take(12))
        {
            var mac = backend == N.Rs1 ? N.Rs1Mac : N.Rs2Mac;
            seeds.Add((udp
                ? Ipv6FrameBuilder.Udp(backend, backendPort, N.Client, clientPort).Macs(N.BackMac, mac).Payload(new byte[clientPort % 300]).Build()
                : Ipv6FrameBuilder.Tcp(backend, backendPort, N.Client, clientPort).Flags(TcpFlags.Ack).Macs(N.BackMac, mac).Payload(new byte[clientPort % 500]).Build(), back));
            // Errors about the packet we sent, from a router behind the backends and from the backend itself.
            seeds.Add((N.Icmpv6Error(N.BackRouter, N.Client, sent, N.BackMac, mac, type: (byte)(clientPort % 2 == 0 ? 3 : 1), code: 0), back));
            seeds.Add((N.Icmpv6Error(backend, N.Client, sent, N.BackMac, mac, type: 1, code: 4), back));
            seeds.Add((N.Icmpv6Error(N.BackRouter, N.Client, sent, N.BackMac, mac, type: 2, code: 0), back));
            // An error from the client's side about our reply (VIP → client).
            var reply = udp
                ? Ipv6FrameBuilder.Udp(N.Vip, EchoPort, N.Client, clientPort).Payload("a").Build()
                : Ipv6FrameBuilder.Tcp(N.Vip, 80, N.Client, clientPort).Flags(TcpFlags.Ack).Build();
            seeds.Add((N.Icmpv6Error(N.Client, N.Vip, reply, N.FrontMac, N.RouterMac), front));
        }
        seeds.Add((Ipv6FrameBuilder.Icmpv6(N.Rs1, N.BackAddress, 135).HopLimit(255).Macs(N.BackMac, N.Rs1Mac).Payload(new byte[20]).Build(), back));
        seeds.Add((Ipv6FrameBuilder.Tcp(N.Rs1, 80, N.BackAddress, 45000).Flags(TcpFlags.Ack).Macs(N.BackMac, N.Rs1Mac).Build(), back));
        return seeds;
    }

    [Fact]
    public void Process_MutatedNat66Frames_AreTranslatedWellFormedOrRefused()
    {
        const int seed = 1602;
        var random = new Random(seed);
        var (engine, opened) = World();
        var seeds = Seeds(opened);
        var counters = engine.Counters;
        int toBackend = 0, toClient = 0, tooBig = 0, dropped = 0, passed = 0;
        for (var n = 0; n < FrameCount; n++)
        {
            var (template, seedMeta) = seeds[random.Next(seeds.Count)];
            var meta = seedMeta;
            var frame = Ipv6Mutations.Mutate(random, (byte[])template.Clone(), ref meta, Addresses);
            var input = (byte[])frame.Clone();
            var before = counters.Drops.Sum() + counters.Passed;
            EngineResult r;
            try
            {
                r = engine.Send(frame, meta);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed}, frame {n} threw {e.GetType().Name}: {e.Message}\ninput {FrameBuilder.Hex(input)}");
            }
            var after = counters.Drops.Sum() + counters.Passed;
            var where = $"seed {seed}, frame {n}, ingress {meta.IngressInterface}, verdict {r}, input {FrameBuilder.Hex(input)}";
            if (r.Verdict != Verdict.Transmit)
            {
                Assert.True(after == before + 1, $"a {r} was not counted exactly once: {where}");
                if (r.Verdict == Verdict.Drop) dropped++;
                else passed++;
                continue;
            }
            var o = r.Output!;
            where += $"\noutput {FrameBuilder.Hex(o)}";
            Assert.True(o.Length >= 14 + 40 && BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(12)) == EtherTypes.Ipv6 && o[14] >> 4 == 6, $"not an IPv6 frame: {where}");
            // Bytes after the datagram (Ethernet padding) travel as they came; the datagram itself must fit.
            Assert.True(BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(18)) + 14 + 40 <= o.Length, $"the payload length runs past the frame: {where}");
            var upper = UpperLayer(o, 14);
            Assert.True(upper is not null, $"the output's upper layer cannot be found: {where}");
            var (protocol, at) = upper!.Value;
            if (r.OutputMeta.EgressInterface == 1)
            {
                toBackend++;
                Assert.True(after == before, $"a translated frame was also counted as dropped or passed: {where}");
                Assert.True(BackendMacs.Contains(MacAddress.Read(o)) && MacAddress.Read(o.AsSpan(6)) == N.BackMac, $"not from the back side's MAC to a backend's: {where}");
                Assert.True(Backends.Contains(Destination(o, 14)), $"not to a backend: {where}");
                var inL3 = input[12] == 0x81 ? 18 : 14;
                if (protocol != IpProtocols.Icmpv6)
                    Assert.True(Source(o, 14) == Source(input, inL3) && o[14 + 7] == input[inL3 + 7] - 1, $"the client's address or the hop limit is not what it sent: {where}");
            }
            else
            {
                Assert.True(r.OutputMeta.EgressInterface == 0, where);
                Assert.True(MacAddress.Read(o.AsSpan(6)) == N.FrontMac, $"not from the front side's MAC: {where}");
                if (protocol == IpProtocols.Icmpv6 && o[at] == Icmpv6Quote.PacketTooBig && Source(o, 14) == N.Vip && MayBeAnsweredWithPacketTooBig(input))
                {
                    tooBig++;
                    Assert.True(o.Length - 14 <= 1280, $"Packet Too Big larger than 1280 bytes: {where}");
                    Assert.True(BinaryPrimitives.ReadUInt32BigEndian(o.AsSpan(at + 4)) == BackMtu, $"Packet Too Big does not say the back MTU: {where}");
                }
                else
                {
                    toClient++;
                    Assert.True(after == before, $"a translated frame was also counted as dropped or passed: {where}");
                    if (protocol != IpProtocols.Icmpv6) Assert.True(Source(o, 14) == N.Vip, $"a reply not from the VIP: {where}");
                }
            }
            if (protocol == IpProtocols.Icmpv6)
            {
                Assert.True(o[at] < 128, $"an ICMPv6 informational message sent: {where}");
                Assert.True(UpperChecksumValid(o, 14, protocol, at), $"ICMPv6 checksum invalid: {where}");
            }
            else if (!meta.ChecksumNotReady)
            {
                var inL3 = input[12] == 0x81 ? 18 : 14;
                var inUpper = UpperLayer(input, inL3);
                if (inUpper is { } i && i.Protocol == protocol && BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(inL3 + 4)) + inL3 + 40 <= input.Length)
                    Assert.True(UpperChecksumValid(o, 14, protocol, at) == UpperChecksumValid(input, inL3, protocol, i.Offset),
                        $"the upper-layer checksum's validity changed on the way: {where}");
            }
        }
        output.WriteLine($"seed {seed}: {FrameCount} frames, {toBackend} to backends, {toClient} to clients, {tooBig} packet too big, {dropped} dropped, {passed} passed");
        foreach (var reason in Enum.GetValues<DropReason>())
            if (reason is not (DropReason.None or DropReason.Count) && counters.Drops[(int)reason] > 0)
                output.WriteLine($"  {DropReasonNames.Name(reason)}: {counters.Drops[(int)reason]}");
        Assert.True(toBackend > FrameCount / 20 && toClient > FrameCount / 50 && tooBig > 0,
            $"to backends {toBackend}, to clients {toClient}, packet too big {tooBig}: the mutations no longer reach every path");
        Assert.True(counters.Drops[(int)DropReason.Ipv6TooManyExtensionHeaders] > 0 && counters.Drops[(int)DropReason.Ipv6Fragment] > 0
                    && counters.Drops[(int)DropReason.Ipv6Truncated] > 0 && counters.Drops[(int)DropReason.Ipv6UnknownNextHeader] > 0,
            "the mutations did not reach the IPv6 refusals");
    }

    /// <summary>Whether the input is one a Packet Too Big may answer: a client's packet (not itself an ICMPv6 error).</summary>
    private static bool MayBeAnsweredWithPacketTooBig(byte[] input)
    {
        var l3 = input.Length > 13 && input[12] == 0x81 ? 18 : 14;
        return input.Length > l3 + 40 && !(UpperLayer(input, l3) is { Protocol: IpProtocols.Icmpv6 } u && input.Length > u.Offset && input[u.Offset] < 128);
    }

    /// <summary>The upper layer after the extension headers the engine walks (hop-by-hop, routing, destination
    /// options), or null when the chain runs past the datagram.</summary>
    private static (byte Protocol, int Offset)? UpperLayer(byte[] frame, int l3)
    {
        if (frame.Length < l3 + 40) return null;
        var end = Math.Min(frame.Length, l3 + 40 + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 4)));
        var next = frame[l3 + 6];
        var at = l3 + 40;
        for (var k = 0; k < 9 && next is Ipv6Packet.HopByHop or Ipv6Packet.Routing or Ipv6Packet.DestinationOptions; k++)
        {
            if (at + 2 > end) return null;
            var length = (frame[at + 1] + 1) * 8;
            next = frame[at];
            at += length;
        }
        return at <= end ? (next, at) : null;
    }

    private static bool UpperChecksumValid(byte[] frame, int l3, byte protocol, int at)
    {
        var end = l3 + 40 + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 4));
        if (end > frame.Length || at > end) return false;
        var pseudo = Ipv6FrameBuilder.PseudoHeader(frame.AsSpan(l3 + 8, 16), frame.AsSpan(l3 + 24, 16), protocol, end - at);
        return ReferenceChecksum.Compute(frame.AsSpan(at, end - at), pseudo) == 0;
    }

    private static string Source(byte[] frame, int l3) => new System.Net.IPAddress(frame.AsSpan(l3 + 8, 16)).ToString();
    private static string Destination(byte[] frame, int l3) => new System.Net.IPAddress(frame.AsSpan(l3 + 24, 16)).ToString();
    private static ushort Port(byte[] frame, int at) => BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(at));
}
