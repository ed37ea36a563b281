using LoadBalancer.Cli.Tests.Configuration;
using static LoadBalancer.Cli.Tests.CheckRun;

namespace LoadBalancer.Cli.Tests.Commands;

/// <summary><c>lb check</c> and <c>lb run</c>, run as child processes with their GC heap capped at 200 MB, refuse
/// hostile configs within 5 s (bounds for a refusal, which takes a fraction of that, startup included; not a
/// benchmark) with the line of the problem and exit 2.</summary>
public class HostileCheckTests
{
    private static readonly TimeSpan RefusalTime = TimeSpan.FromSeconds(5);

    /// <summary>The child is killed if it takes longer than this; past <see cref="RefusalTime"/> it has failed anyway.</summary>
    private static readonly TimeSpan KillTime = TimeSpan.FromSeconds(30);

    public static TheoryData<string, string> Documents => new()
    {
        { nameof(HostileYaml.BillionLaughs), HostileYaml.BillionLaughs },
        { nameof(HostileYaml.AliasedServicesAndBackends), HostileYaml.AliasedServicesAndBackends },
        { nameof(HostileYaml.DeepNesting), HostileYaml.DeepNesting },
    };

    private static (int Line, string Message) ErrorOf(string name) => name switch
    {
        nameof(HostileYaml.BillionLaughs) => HostileYaml.BillionLaughsError,
        nameof(HostileYaml.AliasedServicesAndBackends) => HostileYaml.AliasedServicesAndBackendsError,
        _ => HostileYaml.DeepNestingError,
    };

    [Theory]
    [MemberData(nameof(Documents))]
    public void Check_HostileDocument_ExitsTwoWithTheLineQuicklyAndSmall(string name, string yaml)
    {
        using var file = new TempFile(yaml);
        var (line, message) = ErrorOf(name);

        var run = RunLb(KillTime, "check", "--config", file.Path);

        AssertExited(run, 2, $"{file.Path}:{line}: {message}", run.Out, run.Err);
    }

    [Fact]
    public void Run_AliasBomb_ExitsTwoWithTheLineBeforeStarting()
    {
        using var file = new TempFile(HostileYaml.AliasedServicesAndBackends);
        var (line, message) = HostileYaml.AliasedServicesAndBackendsError;

        var run = RunLb(KillTime, "run", "--config", file.Path);

        // lb run writes its config errors to stderr.
        AssertExited(run, 2, $"{file.Path}:{line}: {message}", run.Err, run.Out);
    }

    [Fact]
    public void Check_Fifo_RefusedWithoutWaitingForAWriter()
    {
        using var fifo = new TempFifo();

        var run = RunLb(KillTime, "check", "--config", fifo.Path);

        AssertExited(run, 2, $"{fifo.Path}:0: is a FIFO, not a regular file; the config must be a regular file", run.Out, run.Err);
    }

    [Fact]
    public void Check_ProcFile_Refused()
    {
        var run = RunLb(KillTime, "check", "--config", "/proc/self/status");

        AssertExited(run, 2, "/proc/self/status:0: is empty (as a /proc file shows); the config must be a regular file with contents", run.Out, run.Err);
    }

    [Fact]
    public void Check_ConfigWithAFewAliases_PrintsOk()
    {
        using var file = new TempFile("""
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                interface: eth0
                health: &check {type: tcp, interval: 5s}
                backends: &pool
                  - {name: web1, address: 10.99.1.11}
                  - {name: web2, address: 10.99.1.12}
              - name: web-tls
                vip: 10.99.0.100
                port: 443
                interface: eth0
                health: *check
                backends: *pool
            """);

        var run = RunLb(KillTime, "check", "--config", file.Path);

        AssertExited(run, 0, "ok", run.Out, run.Err);
    }

    /// <summary>Exited with <paramref name="code"/>, printed exactly <paramref name="line"/> on <paramref name="output"/>
    /// and nothing on <paramref name="other"/>, within <see cref="RefusalTime"/> and <see cref="MemoryLimitBytes"/>.</summary>
    private static void AssertExited(LbRun run, int code, string line, string output, string other)
    {
        Assert.True(run.Code is not null, $"lb was killed after {KillTime.TotalSeconds} s");
        Assert.Equal(code, run.Code);
        Assert.Equal([line], OutputLines(output));
        Assert.Equal("", other);
        Assert.True(run.Elapsed < RefusalTime, $"lb took {run.Elapsed.TotalSeconds:0.0} s");
        Assert.InRange(run.PeakResidentBytes, 1, MemoryLimitBytes);
    }
}
