using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Cli;

/// <summary>The built <c>lb</c> as an operator runs it: exit codes and output of the contract commands.</summary>
public sealed class CliProcessTests
{
    private static CommandResult Lb(params string[] args) =>
        Shell.Run("dotnet", new[] { LabEnvironment.LbDll }.Concat(args), TimeSpan.FromSeconds(60));

    [LabFact]
    public void Check_BadConfig_ExitsTwoWithFileAndLine()
    {
        var path = Path.Combine(Path.GetTempPath(), $"lb-check-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "workers: 1\nservices:\n  - name: web\n    vip: 10.99.0.100\n    port: 99999\n    interface: eth0\n    colour: blue\n    backends:\n      - {name: a, address: 10.99.1.11}\n");
        try
        {
            var r = Lb("check", "--config", path);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains($"{path}:5:", r.Stdout);
            Assert.Contains($"{path}:7:", r.Stdout);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [LabFact]
    public void Check_GoodConfig_PrintsOk()
    {
        var path = Path.Combine(Path.GetTempPath(), $"lb-check-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "services:\n  - name: web\n    vip: 10.99.0.100\n    port: 80\n    interface: eth0\n    backends:\n      - {name: a, address: 10.99.1.11}\n");
        try
        {
            var r = Lb("check", "--config", path);
            Assert.Equal(0, r.ExitCode);
            Assert.Equal("ok", r.Stdout.Trim());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [LabFact]
    public void Status_NoEngine_ExitsNonZeroWithReason()
    {
        var r = Lb("status", "--socket", $"/tmp/lb-none-{Guid.NewGuid():N}.sock");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot reach the engine", r.Stderr);
    }

    [LabFact]
    public void Version_PrintsVersion()
    {
        var r = Lb("version");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("lb ", r.Stdout);
    }
}
