using System.Globalization;
using LoadBalancer.Linux.Kernel;

namespace LoadBalancer.Linux.Tests.Kernel;

/// <summary>capget(2) and geteuid(2) through our declarations against what the kernel prints in /proc/self/status.</summary>
public sealed class ProcessPrivilegesTests
{
    private static string Status(string key) =>
        File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith(key + ":", StringComparison.Ordinal))[(key.Length + 1)..].Trim();

    [Fact]
    public void EffectiveCapabilities_MatchesCapEff()
    {
        Assert.Equal(ulong.Parse(Status("CapEff"), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture), ProcessPrivileges.EffectiveCapabilities());
    }

    [Fact]
    public void EffectiveUid_MatchesUidLine()
    {
        // Uid: real, effective, saved, filesystem.
        Assert.Equal(uint.Parse(Status("Uid").Split('\t')[1], CultureInfo.InvariantCulture), ProcessPrivileges.EffectiveUid);
    }

    [Theory]
    [InlineData(0x3000UL, ProcessPrivileges.CapNetAdmin, true)]
    [InlineData(0x3000UL, ProcessPrivileges.CapNetRaw, true)]
    [InlineData(0x2000UL, ProcessPrivileges.CapNetAdmin, false)]
    [InlineData(0x1000UL, ProcessPrivileges.CapNetRaw, false)]
    [InlineData(1UL << 40, 40, true)]
    public void Has_TestsTheCapabilitysBit(ulong set, int capability, bool expected)
    {
        Assert.Equal(expected, ProcessPrivileges.Has(set, capability));
    }
}
