using System.Net;
using BenchmarkDotNet.Attributes;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Benchmarks;

/// <summary>The NAT per-packet path over 1024 established flows: client to backend (session hit, TTL,
/// destination rewrite with incremental checksums, MACs) and backend to client (reverse session hit,
/// source rewrite). NAT rewrites are not idempotent, so each frame is copied into a work buffer first;
/// the copy of a 64-byte frame is part of what is measured. The path must allocate nothing.</summary>
[MemoryDiagnoser]
public class NatPathBenchmarks
{
    private const int Flows = 1024;
    private static readonly MacAddress FrontMac = Fixtures.NatFrontMac;
    private static readonly MacAddress BackMac = Fixtures.NatBackMac;

    private TestEngine _engine = null!;
    private byte[][] _requests = [];
    private byte[][] _replies = [];
    private readonly byte[] _work = new byte[2048];
    private TestEngine _caseEngine = null!;
    private PacketCase[] _cases = [];
    /// <summary>Frames per round of <see cref="NatFixtureCases"/>, cycling through the cases.</summary>
    private const int FixtureRound = 256;

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
                    Name = "web", Vip = IPAddress.Parse("10.99.0.100"), Port = 80, Mode = ForwardingMode.Nat, Interface = "front", BackendInterface = "back",
                    Backends = Enumerable.Range(1, 4).Select(i => new BackendConfig
                    {
                        Name = $"rs{i}", Address = IPAddress.Parse($"10.99.4.{10 + i}"), Mac = new MacAddress(0x020000000400UL + (ulong)i),
                    }).ToArray(),
                },
            ],
        };
        _engine = new TestEngine(config, Fixtures.NatInterfaces, sessionCapacity: 1 << 16);
        _requests = new byte[Flows][];
        _replies = new byte[Flows][];
        for (var i = 0; i < Flows; i++)
        {
            var client = $"198.51.100.{1 + i / 200}";
            var port = (ushort)(20000 + i);
            var syn = _engine.Send(FrameBuilder.Tcp(client, port, "10.99.0.100", 80).Flags(TcpFlags.Syn).EthernetDestination(FrontMac).Build());
            if (syn.Verdict != Verdict.Transmit) throw new InvalidOperationException($"flow {i}: SYN not forwarded ({syn})");
            var backend = FrameBuilder.DestinationIp(syn.Output!);
            _requests[i] = FrameBuilder.Tcp(client, port, "10.99.0.100", 80).Flags(TcpFlags.Ack).Payload("x").EthernetDestination(FrontMac).Build();
            _replies[i] = FrameBuilder.Tcp(backend, 80, client, port).Flags(TcpFlags.Ack).Payload("y").EthernetDestination(BackMac).Build();
            // Check once, before timing, that both directions are translated.
            var reply = _engine.Send(_replies[i], new FrameMeta { IngressInterface = 1 });
            if (reply.Verdict != Verdict.Transmit || FrameBuilder.SourceIp(reply.Output!) != "10.99.0.100")
                throw new InvalidOperationException($"flow {i}: reply not translated ({reply})");
        }
    }

    [GlobalSetup(Target = nameof(NatFixtureCases))]
    public void SetupCases()
    {
        _caseEngine = NatFixture.Engine();
        _cases = CopyingPath.Prepare(_caseEngine, NatFixture.Cases());
    }

    /// <summary>The shared NAT fixture cases (translated, refused and passed frames of every kind), cycled.</summary>
    [Benchmark(OperationsPerInvoke = FixtureRound)]
    public int NatFixtureCases() => CopyingPath.Cycle(_caseEngine, _cases, _work, FixtureRound);

    [Benchmark(OperationsPerInvoke = Flows)]
    public int NatForwardEstablished() => CopyingPath.Count(_engine, _requests, _work, default, Verdict.Transmit);

    [Benchmark(OperationsPerInvoke = Flows)]
    public int NatReplyEstablished() => CopyingPath.Count(_engine, _replies, _work, new FrameMeta { IngressInterface = 1 }, Verdict.Transmit);
}
