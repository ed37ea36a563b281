using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.ClusterIp;

/// <summary>Every CLUSTERIP6 (node 1 of three) fixture case through the real pipeline, each on a fresh engine, and all of
/// them on one engine (as the benchmarks run them).</summary>
public class ClusterIp6PacketCaseTests
{
    public static TheoryData<string> CaseNames() => PacketCases.Names(ClusterFixture.Cases6());

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Send_FixtureCase_GivesExpectedVerdictAndOutput(string description)
    {
        var @case = ClusterFixture.Cases6().Single(c => c.Description == description);

        var result = PacketCases.Run(ClusterFixture.Engine6(1, new FakeClock()), @case);

        Assert.Null(PacketCases.Mismatch(@case, result));
    }

    [Fact]
    public void Send_AllCasesInOneEngineTwice_GiveTheirVerdictsEachTime() =>
        Assert.Null(PacketCases.MismatchInOneEngine(ClusterFixture.Engine6(1, new FakeClock()), ClusterFixture.Cases6()));

    [Fact]
    public void Cases_Table_IsWellFormed() => Assert.Null(PacketCases.TableProblem(ClusterFixture.Cases6()));
}
