using LoadBalancer.Core.Model;
using static LoadBalancer.Health.Tests.TestServers;

namespace LoadBalancer.Health.Tests;

public class HealthProbesTests
{
    [Fact]
    public void For_EveryType_ReturnsAProbe()
    {
        foreach (var type in Enum.GetValues<HealthCheckType>())
            Assert.NotNull(HealthProbes.For(type));
    }

    [Fact]
    public void For_UnknownType_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => HealthProbes.For((HealthCheckType)99));
    }

    [Fact]
    public async Task For_None_IsAlwaysHealthy()
    {
        using var closed = ClosedTcpPort();

        var result = await HealthProbes.For(HealthCheckType.None).CheckAsync(Target(closed.Port, HealthCheckConfig.None), CancellationToken.None);

        Assert.Equal(new ProbeResult(true, "no health check"), result);
    }
}
