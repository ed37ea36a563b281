using LoadBalancer.Core.IO;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.ClusterIp;

/// <summary>Every CLUSTERIP fixture case (node 1 of three) (packet in, verdict and packet out) through the real pipeline, each on a fresh
/// engine and all of them on one (as the benchmarks run them).</summary>
public class ClusterIpPacketCaseTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in ClusterFixture.Cases()) data.Add(c.Description);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Send_FixtureCase_GivesExpectedVerdictAndOutput(string description)
    {
        var @case = ClusterFixture.Cases().Single(c => c.Description == description);

        var result = PacketCases.Run(ClusterFixture.Engine(1, new FakeClock()), @case);

        Assert.Null(PacketCases.Mismatch(@case, result));
    }

    [Fact]
    public void Send_AllCasesInOneEngineTwice_GiveTheirVerdictsEachTime()
    {
        var engine = ClusterFixture.Engine(1, new FakeClock());
        var cases = ClusterFixture.Cases();
        foreach (var c in cases)
            foreach (var frame in c.Setup ?? []) engine.Send(frame);

        for (var round = 0; round < 2; round++)
            foreach (var c in cases)
                Assert.Null(PacketCases.Mismatch(c, engine.Send(c.Input, c.Meta)));
    }

    [Fact]
    public void Cases_Fixtures_HaveUniqueDescriptionsAndOutputsForEveryTransmit()
    {
        var cases = ClusterFixture.Cases();

        Assert.Equal(cases.Count, cases.Select(c => c.Description).Distinct().Count());
        Assert.All(cases, c => Assert.Equal(c.ExpectedVerdict == Verdict.Transmit, c.ExpectedOutput is not null));
    }
}
