using System.Buffers.Binary;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>The fuzz suite's judge judged: every packet case of the TestKit (whose outputs are checked byte for
/// byte elsewhere) passes it through the real engine, and outputs with one defect each do not, so a green fuzz
/// run means something.</summary>
public sealed class FrameCheckerTests
{
    private static readonly FrameFuzzer Fuzzer = new();

    public static TheoryData<string> Worlds => new() { "dr", "nat", "clusterip" };

    [Theory]
    [MemberData(nameof(Worlds))]
    public void Evaluate_EveryPacketCaseOfTheWorld_FindsNothing(string world)
    {
        var (engine, checker, cases) = world switch
        {
            "dr" => (new TestEngine(Fixtures.Config()), (FrameChecker)FuzzWorlds.DirectRouting().Checker(), Fixtures.Cases()),
            "nat" => (NatFixture.Engine(), new NatChecker(NatWorld.Fixture()), NatFixture.Cases()),
            _ => (ClusterFixture.Engine(1, new FakeClock()), FuzzWorlds.ClusterIp(Model.TransportProtocol.Tcp).Checker(), ClusterFixture.Cases()),
        };
        foreach (var c in cases)
        {
            foreach (var setup in c.Setup ?? []) engine.Process(setup);

            var finding = Fuzzer.Evaluate(engine, checker, c.Input, c.Meta, out var verdict, out var reason, out _);

            Assert.True(finding is null, $"'{c.Description}': {finding}");
            Assert.Equal((c.ExpectedVerdict, c.ExpectedDrop), (verdict, verdict == Verdict.Drop ? reason : DropReason.None));
        }
        Assert.True(checker.CheckedCoherent > 0);
    }

    private static Finding? Transmitted(FrameChecker checker, byte[] input, byte[] output, FrameMeta outputMeta, FrameMeta inputMeta = default,
        bool icmpBuilt = false) =>
        checker.CheckTransmit(new Outcome
        {
            Input = input, InputMeta = inputMeta, Frame = output, Meta = outputMeta, Verdict = Verdict.Transmit,
            Drop = icmpBuilt ? DropReason.MtuExceeded : DropReason.None, IcmpBuilt = icmpBuilt,
        });

    private static readonly FrameMeta ToBack = new() { EgressInterface = NatWorld.Back };

    /// <summary>A client segment in a session and its correct translation, with one byte changed by <paramref name="defect"/>.</summary>
    private static Finding? NatForward(Action<byte[]> defect)
    {
        var client = NatFixture.ClientTcp(41002, TcpFlags.Psh | TcpFlags.Ack);
        var output = NatFixture.ToBackend(client).Build();
        defect(output);
        return Transmitted(new NatChecker(NatWorld.Fixture()), client.Build(), output, ToBack);
    }

    [Fact]
    public void CheckTransmit_CorrectNatTranslation_FindsNothing() => Assert.Null(NatForward(_ => { }));

    [Fact]
    public void CheckTransmit_NatHeaderChecksumOff_Found() =>
        Assert.Contains("bad checksum", NatForward(o => o[24] ^= 1)!.Category);

    [Fact]
    public void CheckTransmit_NatTcpChecksumOff_Found() =>
        Assert.Contains("TCP checksum that was Valid in is Invalid out", NatForward(o => o[14 + 20 + 16] ^= 0x10)!.Category);

    [Fact]
    public void CheckTransmit_NatTtlKept_Found()
    {
        var finding = NatForward(o =>
        {
            o[22] = 64;
            BinaryPrimitives.WriteUInt16BigEndian(o.AsSpan(24), 0);
            BinaryPrimitives.WriteUInt16BigEndian(o.AsSpan(24), ReferenceChecksum.Compute(o.AsSpan(14, 20)));
        });
        Assert.Contains("TTL", finding!.Category);
    }

    [Fact]
    public void CheckTransmit_NatPayloadChanged_Found() =>
        Assert.Contains("changed a byte", NatForward(o => o[^1] ^= 0x20)!.Category);

    [Fact]
    public void CheckTransmit_NatWrongBackendPort_Found() =>
        Assert.Contains("destination wrong", NatForward(o => o[14 + 20 + 3] ^= 1)!.Category);

    [Fact]
    public void CheckTransmit_NatBeyondBackMtu_Found()
    {
        var client = NatFixture.ClientTcp(41008, TcpFlags.Ack).Payload(new byte[NatFixture.BackMtu]);
        var finding = Transmitted(new NatChecker(NatWorld.Fixture()), client.Build(), NatFixture.ToBackend(client).Build(), ToBack);
        Assert.Contains("MTU", finding!.Category);
    }

    [Fact]
    public void CheckTransmit_FragmentationNeededWithWrongMtu_Found()
    {
        var c = NatFixture.Cases().Single(c => c.Description.Contains("fragmentation-needed"));
        var checker = new NatChecker(NatWorld.Fixture());
        var frame = (byte[])c.Input.Clone();
        c.ExpectedOutput!.CopyTo(frame, 0);
        var meta = new FrameMeta { TransmitLength = c.ExpectedOutput.Length, EgressInterface = NatWorld.Front };
        Assert.Null(Transmitted(checker, c.Input, frame, meta, icmpBuilt: true));

        frame[14 + 20 + 7] ^= 1; // the next-hop MTU
        Assert.Contains("differs", Transmitted(checker, c.Input, frame, meta, icmpBuilt: true)!.Category);
    }

    [Fact]
    public void CheckTransmit_TransmitLengthBeyondTheFrame_Found()
    {
        var c = Fixtures.Case("tcp data to web is forwarded");
        var finding = Transmitted(FuzzWorlds.DirectRouting().Checker(), c.Input, c.ExpectedOutput!, new FrameMeta { TransmitLength = c.Input.Length + 1 });
        Assert.Contains("TransmitLength", finding!.Category);
    }

    [Fact]
    public void CheckTransmit_DirectRoutingTtlChanged_Found()
    {
        var c = Fixtures.Case("tcp data to web is forwarded");
        var output = (byte[])c.ExpectedOutput!.Clone();
        output[22]--;
        Assert.Contains("changed a byte", Transmitted(FuzzWorlds.DirectRouting().Checker(), c.Input, output, default)!.Category);
    }

    [Fact]
    public void CheckTransmit_DirectRoutingPartialChecksumLeftPartial_Found()
    {
        var c = Fixtures.Case("partial tcp checksum is completed");
        var checker = FuzzWorlds.DirectRouting().Checker();
        Assert.Null(Transmitted(checker, c.Input, c.ExpectedOutput!, default, c.Meta));

        var uncompleted = FrameBuilder.WithMacs(c.Input, Fixtures.WebBackendMac, Fixtures.InterfaceMac);
        Assert.Contains("Invalid out", Transmitted(checker, c.Input, uncompleted, default, c.Meta)!.Category);
    }

    [Fact]
    public void CheckTransmit_DirectRoutingNeedsCsumLeftSet_FoundAfterTheKernelCompletesIt()
    {
        // The processor completes a NEEDS_CSUM and clears the flag; left set, the kernel would sum a second time.
        var c = Fixtures.Case("partial tcp checksum is completed");
        var needs = new FrameMeta { Vnet = new VnetHeader { Flags = VnetHeader.FlagNeedsChecksum, ChecksumStart = 34, ChecksumOffset = 16 } };
        var finding = Transmitted(FuzzWorlds.DirectRouting().Checker(), c.Input, c.ExpectedOutput!, needs, needs);
        Assert.Contains("Invalid out", finding!.Category);
    }

    [Fact]
    public void CheckTransmit_ClusterIpSourceMacChanged_Found()
    {
        var c = ClusterFixture.Cases()[0];
        var output = (byte[])c.ExpectedOutput!.Clone();
        output[11] ^= 1;
        var finding = Transmitted(FuzzWorlds.ClusterIp(Model.TransportProtocol.Tcp).Checker(), c.Input, output, new FrameMeta { EgressInterface = 1 });
        Assert.Contains("changed a byte", finding!.Category);
    }

    [Fact]
    public void Evaluate_FrameWithGuardBytesIntactAndOneDrop_FindsNothing()
    {
        var engine = new TestEngine(Fixtures.Config());
        var finding = Fuzzer.Evaluate(engine, FuzzWorlds.DirectRouting().Checker(), new byte[10], default, out var verdict, out var reason, out _);
        Assert.Null(finding);
        Assert.Equal((Verdict.Drop, DropReason.EthernetTruncated), (verdict, reason));
    }
}
