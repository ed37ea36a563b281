using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding;

/// <summary>Runs every fixture case (packet in, verdict and packet out) through the in-memory pipeline.</summary>
public class PacketCaseTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Fixtures.Cases()) data.Add(c.Description);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Send_FixtureCase_GivesExpectedVerdictAndOutput(string description)
    {
        var @case = Fixtures.Case(description);
        var engine = new TestEngine(Fixtures.Config());

        var result = engine.Send(@case.Input, @case.Meta);

        Assert.Equal(@case.ExpectedVerdict, result.Verdict);
        Assert.Equal(@case.ExpectedDrop, result.Drop);
        if (@case.ExpectedOutput is { } expected)
            Assert.Equal(FrameBuilder.Hex(expected), FrameBuilder.Hex(result.Output));
        Assert.Equal(1, engine.Counters.RxFrames);
        Assert.Equal(@case.ExpectedVerdict == Verdict.Transmit ? 1 : 0, engine.Counters.TxFrames);
    }

    [Fact]
    public void Cases_Fixtures_HaveUniqueDescriptionsAndOutputsForEveryTransmit()
    {
        var cases = Fixtures.Cases();

        Assert.Equal(cases.Count, cases.Select(c => c.Description).Distinct().Count());
        Assert.All(cases, c => Assert.Equal(c.ExpectedVerdict == Verdict.Transmit, c.ExpectedOutput is not null));
        Assert.All(cases, c => Assert.Equal(c.ExpectedVerdict == Verdict.Drop, c.ExpectedDrop != DropReason.None));
    }

    [Fact]
    public void Process_AllFixtureCasesInOneEngine_CountersAddUp()
    {
        var engine = new TestEngine(Fixtures.Config());
        var cases = Fixtures.Cases();

        foreach (var c in cases) engine.Send(c.Input, c.Meta);

        var counters = engine.Counters;
        Assert.Equal(cases.Count, counters.RxFrames);
        Assert.Equal(cases.Count(c => c.ExpectedVerdict == Verdict.Transmit), counters.TxFrames);
        Assert.Equal(cases.Count(c => c.ExpectedVerdict == Verdict.Pass), counters.Passed);
        foreach (var reason in Enum.GetValues<DropReason>().Where(r => r is not (DropReason.None or DropReason.Count)))
            Assert.Equal(cases.Count(c => c.ExpectedDrop == reason), counters.Drops[(int)reason]);
        var web = engine.Service("web");
        Assert.Equal(cases.Count(c => c.ExpectedVerdict == Verdict.Transmit && c.ExpectedOutput![0..6].SequenceEqual(MacBytes(Fixtures.WebBackendMac))),
            counters.ServicePackets[web.Id]);
    }

    private static byte[] MacBytes(MacAddress mac)
    {
        var b = new byte[6];
        mac.Write(b);
        return b;
    }
}
