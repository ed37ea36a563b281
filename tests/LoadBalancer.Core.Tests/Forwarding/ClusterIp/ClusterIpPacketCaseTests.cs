using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.ClusterIp;

/// <summary>Every CLUSTERIP (node 1 of three) fixture case (packet in, verdict and packet out) through the real pipeline, each on a
/// fresh engine, and all of them on one engine (as the benchmarks run them).</summary>
public class ClusterIpPacketCaseTests
{
    public static TheoryData<string> CaseNames() => PacketCases.Names(ClusterFixture.Cases());

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Send_FixtureCase_GivesExpectedVerdictAndOutput(string description)
    {
        var @case = ClusterFixture.Cases().Single(c => c.Description == description);

        var result = PacketCases.Run(ClusterFixture.Engine(1, new FakeClock()), @case);

        Assert.Null(PacketCases.Mismatch(@case, result));
    }

    [Fact]
    public void Send_AllCasesInOneEngineTwice_GiveTheirVerdictsEachTime() =>
        Assert.Null(PacketCases.MismatchInOneEngine(ClusterFixture.Engine(1, new FakeClock()), ClusterFixture.Cases()));

    [Fact]
    public void Cases_Table_IsWellFormed() => Assert.Null(PacketCases.TableProblem(ClusterFixture.Cases()));
}
