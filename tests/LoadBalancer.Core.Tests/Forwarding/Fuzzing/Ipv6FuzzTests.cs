using System.Buffers.Binary;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;
using Xunit.Abstractions;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>Fuzzing of the IPv6 packet path (DR6 beside the IPv4 fixtures, one interface): valid IPv6 seeds with
/// extension headers, fragments and ICMPv6 errors are mutated where IPv6 parsing decides things (version, payload
/// length, next-header fields, extension lengths, addresses, ports, cuts, padding, random bytes, the frame's
/// metadata). Every frame must be passed, dropped and counted once, or forwarded with nothing but its MACs changed
/// (and a partial checksum completed) to a backend of the service. A fixed seed and a frame count make every run
/// the same run; a failure names the seed and the frame index.</summary>
public sealed class Ipv6FuzzTests(ITestOutputHelper output)
{
    private const string Vip6 = "2001:db8::100";
    private const int FrameCount = 400_000;
    private static MacAddress Mac6(int i) => new(0x02_00_00_00_06_00UL + (ulong)i);

    private static TestEngine Engine()
    {
        var web6 = Fixtures.Service("web6", Vip6, 80, TransportProtocol.Tcp,
            Enumerable.Range(1, 3).Select(i => Fixtures.Backend($"web6-{i}", $"2001:db8:1::{i}", Mac6(i))).ToArray());
        var dns6 = Fixtures.Service("dns6", Vip6, 53, TransportProtocol.Udp, Fixtures.Backend("dns6-1", "2001:db8:1::53", Mac6(53)));
        var config = Fixtures.Config();
        return new TestEngine(config with { Services = [.. config.Services, web6, dns6] });
    }

    private static readonly HashSet<MacAddress> BackendMacs = [Mac6(1), Mac6(2), Mac6(3), Mac6(53)];

    private static List<byte[]> Seeds()
    {
        var seeds = new List<byte[]>();
        for (var i = 0; i < 6; i++)
        {
            var client = $"2001:db8:ffff::{i + 1:x}";
            seeds.Add(Ipv6FrameBuilder.Tcp(client, (ushort)(40000 + i), Vip6, 80).Flags(i % 2 == 0 ? TcpFlags.Syn : TcpFlags.Ack).Payload(new byte[i * 200]).Build());
            seeds.Add(Ipv6FrameBuilder.Udp(client, (ushort)(5300 + i), Vip6, 53).Payload(new byte[i * 30]).Build());
        }
        seeds.Add(Ipv6FrameBuilder.Tcp("2001:db8:ffff::9", 40100, Vip6, 80).Extension(Ipv6Packet.HopByHop).Extension(Ipv6Packet.Routing, 2).Extension(Ipv6Packet.DestinationOptions).Build());
        var chain = Ipv6FrameBuilder.Udp("2001:db8:ffff::a", 5400, Vip6, 53);
        for (var i = 0; i < 8; i++) chain.Extension(Ipv6Packet.DestinationOptions);
        seeds.Add(chain.Build());
        seeds.Add(chain.Extension(Ipv6Packet.Routing).Build());
        seeds.Add(Ipv6FrameBuilder.Tcp("2001:db8:ffff::b", 40200, Vip6, 80).Fragment(0, more: true).Payload(new byte[100]).Build());
        seeds.Add(Ipv6FrameBuilder.Tcp("2001:db8:ffff::b", 40200, Vip6, 80).Vlan(7).Build());
        var reply = Ipv6FrameBuilder.Tcp(Vip6, 80, "2001:db8:ffff::1", 40000).Payload(new byte[40]).Build();
        seeds.Add(Ipv6FrameBuilder.Icmpv6("2001:db8:eeee::1", Vip6, Icmpv6Quote.PacketTooBig).IcmpRest(1280).Payload(reply[14..]).Build());
        seeds.Add(Ipv6FrameBuilder.Icmpv6("2001:db8:ffff::1", Vip6, 135).HopLimit(255).Payload(new byte[24]).Build());
        seeds.Add(Ipv6FrameBuilder.Tcp("2001:db8:ffff::1", 40000, "2001:db8::200", 80).Build());
        return seeds;
    }

    private static readonly string[] Addresses = [Vip6, "2001:db8::200", "2001:db8:1::1", "::", "ff02::1", "2001:db8:ffff::1"];

    [Fact]
    public void Process_MutatedIpv6Frames_AreDroppedPassedOrForwardedIntact() =>
        Run(1601, Engine(), Seeds(), (input, wire, meta, where) =>
        {
            Assert.True(meta.EgressInterface == 0, where);
            Assert.True(BackendMacs.Contains(MacAddress.Read(wire)), $"destination MAC is no IPv6 backend's: {where}");
            Assert.True(MacAddress.Read(wire[6..]) == Fixtures.InterfaceMac, $"source MAC is not the interface's: {where}");
            Assert.True(OnlyChecksumChanged(input, wire, from: 12), $"more than the MACs and a completed checksum changed: {where}");
        });

    /// <summary>The CLUSTERIP6 world: node 1 of three, web6 (TCP 80) on the IPv6 VIP behind the cluster MAC, with flows
    /// it accepted. A frame it takes goes to the TAP with nothing changed but the destination MAC (and a completed
    /// checksum); everything else is dropped (not its flow, malformed) or passed, and counted once.</summary>
    [Fact]
    public void Process_MutatedClusterIp6Frames_AreDroppedPassedOrReinjectedIntact()
    {
        var clock = new FakeClock();
        var engine = ClusterFixture.Engine6(1, clock);
        clock.Advance((long)FlowTimeoutsConfig.Default.TcpEstablished.TotalMilliseconds + 1); // past the start's TCP transition
        var seeds = ClusterSeeds();
        Run(1602, engine, seeds, (input, wire, meta, where) =>
        {
            Assert.True(meta.EgressInterface == 1, $"not re-injected through the TAP: {where}");
            Assert.True(MacAddress.Read(wire) == ClusterFixture.TapMac, $"destination MAC is not the TAP's: {where}");
            Assert.True(OnlyChecksumChanged(input, wire, from: 6), $"more than the destination MAC and a completed checksum changed: {where}");
        });
        Assert.True(engine.Counters.Drops[(int)DropReason.NotOwner] > 0, "no frame reached the ownership decision's refusal");
    }

    private static List<byte[]> ClusterSeeds()
    {
        var owned = ClusterFixture.Flows6(1).Take(8).ToArray();
        var other = ClusterFixture.Flows6(1, owned: false).Take(3).ToArray();
        var seeds = new List<byte[]>();
        foreach (var c in ClusterFixture.Cases6().Where(c => c.Setup is null)) seeds.Add(c.Input);
        for (var i = 0; i < owned.Length; i++)
            seeds.Add(ClusterFixture.Tcp6Builder(owned[i], i % 2 == 0 ? TcpFlags.Syn : TcpFlags.Ack).Payload(new byte[i * 150]).Build());
        foreach (var o in other) seeds.Add(ClusterFixture.Tcp6(o, TcpFlags.Syn));
        seeds.Add(ClusterFixture.Tcp6Builder(owned[0], TcpFlags.Ack).Extension(Ipv6Packet.HopByHop).Extension(Ipv6Packet.Routing, 2).Build());
        var chain = ClusterFixture.Tcp6Builder(owned[1], TcpFlags.Ack);
        for (var i = 0; i < 8; i++) chain.Extension(Ipv6Packet.DestinationOptions);
        seeds.Add(chain.Build());
        seeds.Add(chain.Extension(Ipv6Packet.Routing).Build());
        seeds.Add(ClusterFixture.Tcp6Builder(owned[2], TcpFlags.Ack).Fragment(0, more: true).Payload(new byte[100]).Build());
        seeds.Add(ClusterFixture.Tcp6Builder(owned[3], TcpFlags.Ack).Vlan(7).Build());
        var reply = Ipv6FrameBuilder.Tcp(ClusterFixture.Vip6, ClusterFixture.Port, ClusterFixture.ClientIp6(owned[0]), ClusterFixture.ClientPort(owned[0]))
            .Payload(new byte[40]).Build();
        seeds.Add(Ipv6FrameBuilder.Icmpv6("2001:db8:eeee::1", ClusterFixture.Vip6, Icmpv6Quote.PacketTooBig).IcmpRest(1280).Payload(reply[14..])
            .Macs(ClusterFixture.ClusterMac6, FrameBuilder.DefaultSourceMac).Build());
        seeds.Add(Ipv6FrameBuilder.Icmpv6("2001:db8:ffff::1", ClusterFixture.Vip6, 135).HopLimit(255).Payload(new byte[24])
            .Macs(ClusterFixture.ClusterMac6, FrameBuilder.DefaultSourceMac).Build());
        seeds.Add(Ipv6FrameBuilder.Udp(ClusterFixture.ClientIp6(owned[4]), 5300, ClusterFixture.Vip6, 53).Payload("q").Macs(ClusterFixture.ClusterMac6, FrameBuilder.DefaultSourceMac).Build());
        return seeds;
    }

    private delegate void TransmitCheck(byte[] input, ReadOnlySpan<byte> wire, FrameMeta meta, string where);

    private void Run(int seed, TestEngine engine, List<byte[]> seeds, TransmitCheck check)
    {
        var random = new Random(seed);
        var counters = engine.Counters;
        int transmitted = 0, dropped = 0, passed = 0;
        for (var n = 0; n < FrameCount; n++)
        {
            var frame = (byte[])seeds[random.Next(seeds.Count)].Clone();
            var meta = default(FrameMeta);
            frame = Ipv6Mutations.Mutate(random, frame, ref meta, Addresses);
            var input = (byte[])frame.Clone();
            var before = counters.Drops.Sum() + counters.Passed;
            Verdict verdict;
            try
            {
                verdict = engine.Process(frame, ref meta);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed}, frame {n} threw {e.GetType().Name}: {e.Message}\ninput {FrameBuilder.Hex(input)}");
            }
            var after = counters.Drops.Sum() + counters.Passed;
            var where = $"seed {seed}, frame {n}, verdict {verdict}, input {FrameBuilder.Hex(input)}";
            switch (verdict)
            {
                case Verdict.Transmit:
                    transmitted++;
                    Assert.True(after == before, $"a forwarded frame was also counted as dropped or passed: {where}");
                    check(input, frame.AsSpan(0, meta.TransmitLength > 0 ? meta.TransmitLength : frame.Length), meta, where);
                    break;
                case Verdict.Drop:
                    dropped++;
                    Assert.True(after == before + 1, $"a drop was not counted exactly once: {where}");
                    break;
                default:
                    passed++;
                    Assert.True(after == before + 1, $"a pass was not counted exactly once: {where}");
                    break;
            }
        }
        output.WriteLine($"seed {seed}: {FrameCount} frames, {transmitted} forwarded, {dropped} dropped, {passed} passed");
        foreach (var reason in Enum.GetValues<DropReason>())
            if (reason is not (DropReason.None or DropReason.Count) && counters.Drops[(int)reason] > 0)
                output.WriteLine($"  {DropReasonNames.Name(reason)}: {counters.Drops[(int)reason]}");
        Assert.True(transmitted > FrameCount / 20, $"only {transmitted} forwarded: the mutations no longer reach the forwarder");
        Assert.True(counters.Drops[(int)DropReason.Ipv6TooManyExtensionHeaders] > 0 && counters.Drops[(int)DropReason.Ipv6Fragment] > 0
                    && counters.Drops[(int)DropReason.Ipv6Truncated] > 0 && counters.Drops[(int)DropReason.Ipv6UnknownNextHeader] > 0
                    && counters.Drops[(int)DropReason.Ipv6BadPayloadLength] > 0,
            "the mutations did not reach every IPv6 refusal");
    }

    /// <summary>Bytes <paramref name="from"/> on equal, except at most two adjacent bytes (a partial checksum completed).</summary>
    private static bool OnlyChecksumChanged(byte[] input, ReadOnlySpan<byte> wire, int from)
    {
        if (wire.Length != input.Length) return false;
        var first = -1;
        for (var i = from; i < input.Length; i++)
        {
            if (input[i] == wire[i]) continue;
            if (first < 0) first = i;
            else if (i - first > 1) return false;
        }
        return true;
    }
}
