using LoadBalancer.Cli.ServiceManager;

namespace LoadBalancer.Cli.Tests.ServiceManager;

public class JournalStreamTests
{
    [Theory]
    [InlineData("8:123456", true)]
    [InlineData("8:123457", false)]
    [InlineData("9:123456", false)]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("8", false)]
    [InlineData(":123456", false)]
    [InlineData("8:", false)]
    [InlineData("8:123456:1", false)]
    [InlineData("+8:123456", false)]
    [InlineData("x:y", false)]
    public void Names_OnlyStderrsOwnDeviceAndInode(string? value, bool expected) =>
        Assert.Equal(expected, JournalStream.Names(value, (8, 123456)));

    [Fact]
    public void Names_StderrNotOpen_False() => Assert.False(JournalStream.Names("8:123456", null));
}
