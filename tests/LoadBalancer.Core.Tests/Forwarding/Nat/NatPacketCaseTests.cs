using LoadBalancer.Core.IO;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Nat;

/// <summary>Every NAT fixture case (packet in, verdict and packet out) through the real pipeline, each on a fresh
/// engine and all of them on one (as the benchmarks run them).</summary>
public class NatPacketCaseTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in NatFixture.Cases()) data.Add(c.Description);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Send_FixtureCase_GivesExpectedVerdictAndOutput(string description)
    {
        var @case = NatFixture.Cases().Single(c => c.Description == description);

        var result = PacketCases.Run(NatFixture.Engine(), @case);

        Assert.Null(PacketCases.Mismatch(@case, result));
    }

    [Fact]
    public void Send_AllCasesInOneEngineTwice_GiveTheirVerdictsEachTime()
    {
        var engine = NatFixture.Engine();
        var cases = NatFixture.Cases();
        foreach (var c in cases)
            foreach (var frame in c.Setup ?? []) engine.Send(frame);

        for (var round = 0; round < 2; round++)
            foreach (var c in cases)
                Assert.Null(PacketCases.Mismatch(c, engine.Send(c.Input, c.Meta)));
    }

    [Fact]
    public void Cases_Fixtures_HaveUniqueDescriptionsAndOutputsForEveryTransmit()
    {
        var cases = NatFixture.Cases();

        Assert.Equal(cases.Count, cases.Select(c => c.Description).Distinct().Count());
        Assert.All(cases, c => Assert.Equal(c.ExpectedVerdict == Verdict.Transmit, c.ExpectedOutput is not null));
    }
}
