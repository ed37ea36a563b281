using System.Buffers.Binary;
using LoadBalancer.Core.Flows;
using LoadBalancer.Linux.Interop;
using LoadBalancer.Linux.Packet;

namespace LoadBalancer.Linux.Tests.Packet;

/// <summary>The fanout program the kernel runs computes <see cref="WorkerFanout.Hash"/>, which the engine uses to tell
/// which worker a synced flow belongs to. A lab cannot prove that two hosts agree (namespaces of one host share the
/// kernel's seed, so even PACKET_FANOUT_HASH would look consistent there); running the program here, in a small
/// interpreter of the classic-BPF instructions it uses, proves that its result depends on the frame alone.</summary>
public class ClientFanoutTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Program_ComputesWorkerFanoutHash_OnEitherSide(bool clientIsSource)
    {
        var program = ClientFanout.Program(clientIsSource);
        var random = new Random(7);
        for (var i = 0; i < 2000; i++)
        {
            var client = (uint)random.NextInt64(0, uint.MaxValue);
            var other = (uint)random.NextInt64(0, uint.MaxValue);
            var clientPort = (ushort)random.Next(0, 65536);
            var otherPort = (ushort)random.Next(0, 65536);
            var ihl = random.Next(5, 16); // options must not move the ports the program reads
            var packet = clientIsSource
                ? Ipv4Tcp(ihl, client, other, clientPort, otherPort)
                : Ipv4Tcp(ihl, other, client, otherPort, clientPort);

            Assert.Equal(WorkerFanout.Hash(client, clientPort), ClassicBpf.Run(program, packet));
        }
    }

    /// <summary>An ICMP error is keyed on the datagram it quotes: a reply VIP:port → client on the client side, a
    /// translated packet client → backend on the backend side, so it reaches the worker holding that flow.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Program_KeysIcmpErrorsOnTheQuotedFlow(bool clientIsSource)
    {
        var program = ClientFanout.Program(clientIsSource);
        var random = new Random(11);
        for (var i = 0; i < 2000; i++)
        {
            var client = (uint)random.NextInt64(0, uint.MaxValue);
            var other = (uint)random.NextInt64(0, uint.MaxValue);
            var clientPort = (ushort)random.Next(0, 65536);
            var otherPort = (ushort)random.Next(0, 65536);
            var quote = clientIsSource
                ? Ipv4Tcp(random.Next(5, 16), other, client, otherPort, clientPort)
                : Ipv4Tcp(random.Next(5, 16), client, other, clientPort, otherPort);
            var outerIhl = random.Next(5, 16);
            var packet = new byte[outerIhl * 4 + 8 + quote.Length];
            packet[0] = (byte)(0x40 | outerIhl);
            packet[9] = 1;
            BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(12), (uint)random.NextInt64(0, uint.MaxValue));
            BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(16), (uint)random.NextInt64(0, uint.MaxValue));
            packet[outerIhl * 4] = 3;
            packet[outerIhl * 4 + 1] = 4;
            quote.CopyTo(packet.AsSpan(outerIhl * 4 + 8));

            Assert.Equal(WorkerFanout.Hash(client, clientPort), ClassicBpf.Run(program, packet));
        }
    }

    [Fact]
    public void Program_IcmpQuotingPastTheEnd_EndsWithZero()
    {
        var packet = new byte[20 + 8 + 10];
        packet[0] = 0x45;
        packet[9] = 1;
        packet[28] = 0x45;
        Assert.Equal(0u, ClassicBpf.Run(ClientFanout.Program(true), packet));
    }

    [Fact]
    public void Hash_HasNoHostInput_SoTwoBalancersAgree()
    {
        // Fixed values: a change here would move flows between workers on an upgraded balancer only.
        // 10.99.2.2:40000, worked out by hand from the formula in WorkerFanout's summary.
        Assert.Equal(0x00DB9D79u, WorkerFanout.Hash(0x0A630202, 40000));
        Assert.Equal(0, WorkerFanout.Worker(0x0A630202, 40000, 1));
        Assert.Equal(1, WorkerFanout.Worker(0x0A630202, 40000, 2));
        Assert.Equal(2, WorkerFanout.Worker(0x0A630202, 40000, 3));
    }

    [Fact]
    public void Worker_SpreadsClientsEvenly()
    {
        var counts = new int[4];
        for (ushort port = 1024; port < 1024 + 40_000; port++) counts[WorkerFanout.Worker(0x0A630202, port, 4)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_000, 11_000));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Program_Ipv6_ComputesWorkerFanoutHashOfTheFoldedAddress(bool clientIsSource)
    {
        var program = ClientFanout.Program(clientIsSource);
        var random = new Random(13);
        for (var i = 0; i < 2000; i++)
        {
            var client = Random128(random);
            var other = Random128(random);
            var clientPort = (ushort)random.Next(0, 65536);
            var otherPort = (ushort)random.Next(0, 65536);
            var packet = clientIsSource ? Ipv6Udp(client, other, clientPort, otherPort, random) : Ipv6Udp(other, client, otherPort, clientPort, random);

            Assert.Equal(WorkerFanout.Hash(WorkerFanout.Fold(client), clientPort), ClassicBpf.Run(program, packet));
            Assert.Equal(WorkerFanout.Worker(client, clientPort, 4), (int)(ClassicBpf.Run(program, packet) % 4));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Program_Ipv6_KeysIcmpv6ErrorsOnTheQuotedFlow(bool clientIsSource)
    {
        var program = ClientFanout.Program(clientIsSource);
        var random = new Random(17);
        for (var i = 0; i < 2000; i++)
        {
            var client = Random128(random);
            var other = Random128(random);
            var clientPort = (ushort)random.Next(0, 65536);
            var otherPort = (ushort)random.Next(0, 65536);
            var quote = clientIsSource ? Ipv6Udp(other, client, otherPort, clientPort, random) : Ipv6Udp(client, other, clientPort, otherPort, random);
            var packet = Ipv6Udp(Random128(random), Random128(random), 0, 0, random);
            Array.Resize(ref packet, 48 + quote.Length);
            packet[6] = 58;
            packet[40] = 2; // packet too big
            quote.CopyTo(packet.AsSpan(48));

            Assert.Equal(WorkerFanout.Hash(WorkerFanout.Fold(client), clientPort), ClassicBpf.Run(program, packet));
        }
    }

    private static UInt128 Random128(Random random) => new((ulong)random.NextInt64(), (ulong)random.NextInt64());

    private static byte[] Ipv6Udp(UInt128 source, UInt128 destination, ushort sourcePort, ushort destinationPort, Random random)
    {
        var p = new byte[48];
        p[0] = (byte)(0x60 | random.Next(16)); // traffic class and flow label do not matter
        p[1] = (byte)random.Next(256);
        p[6] = 17;
        BinaryPrimitives.WriteUInt128BigEndian(p.AsSpan(8), source);
        BinaryPrimitives.WriteUInt128BigEndian(p.AsSpan(24), destination);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(40), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(42), destinationPort);
        return p;
    }

    private static byte[] Ipv4Tcp(int ihl, uint source, uint destination, ushort sourcePort, ushort destinationPort)
    {
        var p = new byte[ihl * 4 + 20];
        p[0] = (byte)(0x40 | ihl);
        p[9] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(12), source);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(16), destination);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ihl * 4), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ihl * 4 + 2), destinationPort);
        return p;
    }
}
