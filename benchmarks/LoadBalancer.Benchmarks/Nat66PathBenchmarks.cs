using System.Net;
using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>NAT66 per packet over 1024 established flows, as <see cref="NatPathBenchmarks"/> measures IPv4 NAT: client
/// to backend (IPv6 session hit, hop limit, destination rewrite with the incremental upper-layer checksum, MACs) and
/// backend to client (reverse session hit, source rewrite). Each frame is copied into a work buffer first (the
/// rewrite is not idempotent); the copy is measured too. The path must allocate nothing.</summary>
[MemoryDiagnoser]
public class Nat66PathBenchmarks
{
    private const int Flows = 1024;
    private const string Vip = "2001:db8::100";
    private static readonly MacAddress FrontMac = Fixtures.NatFrontMac;
    private static readonly MacAddress BackMac = Fixtures.NatBackMac;

    private TestEngine _engine = null!;
    private byte[][] _requests = [];
    private byte[][] _replies = [];
    private readonly byte[] _work = new byte[2048];

    [GlobalSetup]
    public void Setup()
    {
        var config = new BalancerConfig
        {
            SessionTableSize = 1 << 16,
            Services =
            [
                new ServiceConfig
                {
                    Name = "web6", Vip = IPAddress.Parse(Vip), Port = 80, Mode = ForwardingMode.Nat, Interface = "front", BackendInterface = "back",
                    Backends = Enumerable.Range(1, 4).Select(i => new BackendConfig
                    {
                        Name = $"rs{i}", Address = IPAddress.Parse($"2001:db8:4::{10 + i:x}"), Mac = new MacAddress(0x020000000400UL + (ulong)i),
                    }).ToArray(),
                },
            ],
        };
        TestInterface[] interfaces =
        [
            Fixtures.NatInterfaces[0] with { Address6 = Ipv6.Parse("2001:db8:1::10") },
            Fixtures.NatInterfaces[1] with { Address6 = Ipv6.Parse("2001:db8:4::1") },
        ];
        _engine = new TestEngine(config, interfaces, sessionCapacity: 1 << 16);
        _requests = new byte[Flows][];
        _replies = new byte[Flows][];
        for (var i = 0; i < Flows; i++)
        {
            var client = $"2001:db8:ffff::{1 + i / 200:x}";
            var port = (ushort)(20000 + i);
            var syn = _engine.Send(Ipv6FrameBuilder.Tcp(client, port, Vip, 80).Flags(TcpFlags.Syn).Macs(FrontMac, Fixtures.ClientMac).Build());
            if (syn.Verdict != Verdict.Transmit) throw new InvalidOperationException($"flow {i}: SYN not forwarded ({syn})");
            var backend = new IPAddress(syn.Output!.AsSpan(14 + 24, 16)).ToString();
            _requests[i] = Ipv6FrameBuilder.Tcp(client, port, Vip, 80).Flags(TcpFlags.Ack).Payload("x").Macs(FrontMac, Fixtures.ClientMac).Build();
            _replies[i] = Ipv6FrameBuilder.Tcp(backend, 80, client, port).Flags(TcpFlags.Ack).Payload("y").Macs(BackMac, new MacAddress(0x020000000401UL)).Build();
            // Check once, before timing, that both directions are translated.
            var reply = _engine.Send(_replies[i], new FrameMeta { IngressInterface = 1 });
            if (reply.Verdict != Verdict.Transmit || new IPAddress(reply.Output!.AsSpan(14 + 8, 16)).ToString() != Vip)
                throw new InvalidOperationException($"flow {i}: reply not translated ({reply})");
        }
    }

    [Benchmark(OperationsPerInvoke = Flows)]
    public int Nat66ForwardEstablished() => CopyingPath.Count(_engine, _requests, _work, default, Verdict.Transmit);

    [Benchmark(OperationsPerInvoke = Flows)]
    public int Nat66ReplyEstablished() => CopyingPath.Count(_engine, _replies, _work, new FrameMeta { IngressInterface = 1 }, Verdict.Transmit);
}
