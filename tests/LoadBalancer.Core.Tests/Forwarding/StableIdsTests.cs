using LoadBalancer.Core.Forwarding;

namespace LoadBalancer.Core.Tests.Forwarding;

public class StableIdsTests
{
    [Fact]
    public void Take_SameKey_SameIdAcrossBuilds()
    {
        var ids = new StableIds<string>(4);
        ids.BeginBuild();
        var a = ids.Take("a");
        var b = ids.Take("b");
        ids.BeginBuild();

        Assert.Equal(a, ids.Take("a"));
        Assert.NotEqual(a, b);
        Assert.Equal(b, ids.Peek("b"));
        Assert.Equal(-1, ids.Peek("c"));
    }

    [Fact]
    public void Take_SpaceExhausted_ReusesTheIdRetiredLongestAgo()
    {
        var ids = new StableIds<string>(3);
        ids.BeginBuild();
        var a = ids.Take("a");
        ids.BeginBuild();
        ids.Take("b");
        ids.BeginBuild();
        ids.Take("c");
        ids.BeginBuild();

        // "a" was last used three builds ago, "b" two: "a"'s id goes first, then "b"'s.
        Assert.Equal(a, ids.Take("d"));
        Assert.Equal(-1, ids.Peek("a"));
        Assert.NotEqual(ids.Take("d"), ids.Take("e"));
    }

    [Fact]
    public void Take_EveryIdInUseByThisBuild_ReturnsCapacity()
    {
        var ids = new StableIds<string>(2);
        ids.BeginBuild();
        ids.Take("a");
        ids.Take("b");

        Assert.Equal(2, ids.Take("c"));
        Assert.Equal(-1, ids.Peek("c"));
    }
}
