using static LoadBalancer.Cli.Tests.CheckRun;

namespace LoadBalancer.Cli.Tests.Commands;

public class CheckCommandTests
{
    private const string Valid = """
        services:
          - name: web
            vip: 10.99.0.100
            port: 80
            interface: eth0
            backends:
              - name: web1
                address: 10.99.1.11
        """;

    [Fact]
    public void Run_ValidConfig_PrintsOkAndReturnsZero()
    {
        using var file = new TempFile(Valid);
        var (code, output, error) = RunCheck(file.Path);
        Assert.Equal(0, code);
        Assert.Equal("ok" + Environment.NewLine, output);
        Assert.Equal("", error);
    }

    [Fact]
    public void Run_InvalidConfig_PrintsEveryErrorAndReturnsTwo()
    {
        using var file = new TempFile(Valid.Replace("port: 80", "port: 0").Replace("interface: eth0", "interface: eth0\n    foo: 1"));
        var (code, output, error) = RunCheck(file.Path);
        Assert.Equal(2, code);
        Assert.Equal(
            [$"{file.Path}:4: port must be between 1 and 65535 (got 0)", $"{file.Path}:6: unknown key 'foo'"],
            OutputLines(output));
        Assert.Equal("", error);
    }

    [Fact]
    public void Run_ValidHealthSection_PrintsOk()
    {
        using var file = new TempFile(Valid + "\n    health:\n      type: http\n      request: HEAD /running HTTP/1.1\n      interval: 5s");
        var (code, output, _) = RunCheck(file.Path);
        Assert.Equal(0, code);
        Assert.Equal("ok" + Environment.NewLine, output);
    }

    [Fact]
    public void Run_HealthErrors_PrintsEachWithItsLine()
    {
        using var file = new TempFile(Valid + "\n    health:\n      type: tcp\n      expect: 200\n      timeout: 5s");
        var (code, output, _) = RunCheck(file.Path);
        Assert.Equal(2, code);
        Assert.Equal(
            [$"{file.Path}:11: 'expect' applies only to http/https checks", $"{file.Path}:12: timeout 5s must not be longer than the interval (2s, the default)"],
            OutputLines(output));
    }

    [Fact]
    public void Run_MissingFile_ReportsFileErrorAndReturnsTwo()
    {
        var path = Path.Combine(Path.GetTempPath(), $"lb-missing-{Guid.NewGuid():N}.yaml");
        var (code, output, _) = RunCheck(path);
        Assert.Equal(2, code);
        Assert.Equal($"{path}:0: config file not found" + Environment.NewLine, output);
    }

    [Fact]
    public void Run_YamlSyntaxError_ReturnsTwo()
    {
        using var file = new TempFile("services: [\n");
        var (code, output, _) = RunCheck(file.Path);
        Assert.Equal(2, code);
        Assert.StartsWith($"{file.Path}:", output);
        Assert.Contains("invalid YAML", output);
    }
}
