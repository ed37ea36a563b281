using LoadBalancer.Core.Scheduling;
using Xunit.Abstractions;

namespace LoadBalancer.Core.Tests.Scheduling;

/// <summary>The issue's acceptance tests for Maglev; the thresholds are part of the acceptance criteria.</summary>
public class MaglevTableTests(ITestOutputHelper output)
{
    private static MaglevBackend[] Backends(int n, Func<int, int>? weight = null) =>
        Enumerable.Range(1, n).Select(i => new MaglevBackend($"backend-{i}", weight?.Invoke(i) ?? 100)).ToArray();

    private static int[] Shares(MaglevTable table, int backends)
    {
        var counts = new int[backends];
        foreach (var e in table.Entries) counts[e]++;
        return counts;
    }

    [Theory]
    [InlineData(3)]
    [InlineData(10)]
    public void Build_EqualWeights_SharesWithinOnePercentOfEachOther(int n)
    {
        var table = MaglevTable.Build(Backends(n));

        Assert.Equal(MaglevTable.DefaultSize, table.Size);
        var shares = Shares(table, n);
        var mean = (double)MaglevTable.DefaultSize / n;
        output.WriteLine($"{n} backends: shares {string.Join(", ", shares)}, spread {(shares.Max() - shares.Min()) / mean:P3} of the mean");
        Assert.True((shares.Max() - shares.Min()) / mean <= 0.01,
            $"shares {string.Join(", ", shares)} spread {(shares.Max() - shares.Min()) / mean:P3} of the mean");
    }

    [Theory]
    [InlineData(5)]
    [InlineData(10)]
    public void Build_OneBackendRemoved_MovesOnlyItsSlotsPlusAtMostFivePercent(int n)
    {
        var before = Backends(n);
        var removed = before[n / 2].Name;
        var after = before.Where(b => b.Name != removed).ToArray();
        var oldTable = MaglevTable.Build(before);
        var newTable = MaglevTable.Build(after);

        var otherSlots = 0;
        var moved = 0;
        for (var i = 0; i < MaglevTable.DefaultSize; i++)
        {
            var oldName = before[oldTable.Entries[i]].Name;
            var newName = after[newTable.Entries[i]].Name;
            Assert.NotEqual(removed, newName);
            if (oldName == removed) continue; // its slots must move somewhere
            otherSlots++;
            if (oldName != newName) moved++;
        }
        var fraction = (double)moved / otherSlots;
        output.WriteLine($"{n} backends, {removed} removed: {moved} of {otherSlots} other slots moved ({fraction:P2})");
        Assert.True(fraction <= 0.05, $"{moved} of {otherSlots} slots of the remaining backends moved ({fraction:P2})");
    }

    [Fact]
    public void Build_Weights112_SharesWithinTwoPointsOf25_25_50()
    {
        var table = MaglevTable.Build([new("a", 1), new("b", 1), new("c", 2)]);

        var shares = Shares(table, 3).Select(c => 100.0 * c / table.Size).ToArray();
        output.WriteLine($"1:1:2 shares: {string.Join(" / ", shares.Select(s => s.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))} %");
        Assert.InRange(shares[0], 23.0, 27.0);
        Assert.InRange(shares[1], 23.0, 27.0);
        Assert.InRange(shares[2], 48.0, 52.0);
    }

    [Fact]
    public void Build_ZeroTotalWeight_GivesEmptyTable()
    {
        var table = MaglevTable.Build([new("a", 0), new("b", 0)]);

        Assert.True(table.IsEmpty);
        Assert.Equal(0, table.Size);
        Assert.Equal(2, table.BackendCount);
        Assert.Equal(-1, table.Lookup(12345));
    }

    [Fact]
    public void Build_NoBackends_GivesEmptyTable()
    {
        var table = MaglevTable.Build([]);

        Assert.True(table.IsEmpty);
        Assert.Equal(-1, table.Lookup(0));
    }

    [Theory]
    [InlineData(65536)]
    [InlineData(65535)]
    [InlineData(1)]
    [InlineData(0)]
    [InlineData(-7)]
    public void Build_NonPrimeSize_Throws(int size)
    {
        Assert.Throws<ArgumentException>(() => MaglevTable.Build(Backends(3), size));
    }

    [Fact]
    public void Build_NegativeWeight_Throws()
    {
        Assert.Throws<ArgumentException>(() => MaglevTable.Build([new("a", 1), new("b", -1)]));
    }

    [Fact]
    public void Build_MoreBackendsThanSlots_Throws()
    {
        Assert.Throws<ArgumentException>(() => MaglevTable.Build(Backends(8), 7));
    }

    [Fact]
    public void Build_SameInput_BuildsIdenticalTables()
    {
        var a = MaglevTable.Build(Backends(7, i => i * 10));
        var b = MaglevTable.Build(Backends(7, i => i * 10));

        Assert.True(a.Entries.SequenceEqual(b.Entries));
    }

    [Fact]
    public void Build_ZeroWeightBackend_GetsNoSlots()
    {
        var table = MaglevTable.Build([new("a", 100), new("b", 0), new("c", 100)]);

        var shares = Shares(table, 3);
        Assert.Equal(0, shares[1]);
        Assert.Equal(table.Size, shares[0] + shares[2]);
    }

    [Fact]
    public void Build_SmallPrimeSize_FillsEverySlotWithValidIndex()
    {
        var table = MaglevTable.Build(Backends(5), 13);

        Assert.Equal(13, table.Size);
        Assert.All(table.Entries.ToArray(), e => Assert.InRange(e, 0, 4));
    }

    [Fact]
    public void Lookup_Hash_IndexesEntryByHashModuloSize()
    {
        var table = MaglevTable.Build(Backends(4), 251);

        for (uint h = 0; h < 1000; h += 37)
            Assert.Equal(table.Entries[(int)(h % 251)], table.Lookup(h));
        Assert.Equal(table.Entries[(int)(uint.MaxValue % 251)], table.Lookup(uint.MaxValue));
    }

    [Theory]
    [InlineData(2, true)]
    [InlineData(3, true)]
    [InlineData(4, false)]
    [InlineData(65537, true)]
    [InlineData(65541, false)]
    [InlineData(655373, true)]
    [InlineData(1, false)]
    public void IsPrime_Numbers_Classified(int n, bool prime)
    {
        Assert.Equal(prime, MaglevTable.IsPrime(n));
    }
}
