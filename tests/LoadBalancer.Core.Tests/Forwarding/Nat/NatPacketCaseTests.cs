using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Nat;

/// <summary>Every NAT fixture case (packet in, verdict and packet out) through the real pipeline, each on a
/// fresh engine, and all of them on one engine (as the benchmarks run them).</summary>
public class NatPacketCaseTests
{
    public static TheoryData<string> CaseNames() => PacketCases.Names(NatFixture.Cases());

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Send_FixtureCase_GivesExpectedVerdictAndOutput(string description)
    {
        var @case = NatFixture.Cases().Single(c => c.Description == description);

        var result = PacketCases.Run(NatFixture.Engine(), @case);

        Assert.Null(PacketCases.Mismatch(@case, result));
    }

    [Fact]
    public void Send_AllCasesInOneEngineTwice_GiveTheirVerdictsEachTime() =>
        Assert.Null(PacketCases.MismatchInOneEngine(NatFixture.Engine(), NatFixture.Cases()));

    [Fact]
    public void Cases_Table_IsWellFormed() => Assert.Null(PacketCases.TableProblem(NatFixture.Cases()));
}
