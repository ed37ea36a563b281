using System.Diagnostics;
using LoadBalancer.Cli.Configuration;

using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary>Documents and files made to exhaust the reader (alias bombs, deep nesting, aliases that contain
/// themselves, files that are not regular files) are refused quickly with a line; configs that use a few
/// aliases still load. <c>lb check</c> and <c>lb run</c> on them as processes: <c>HostileCheckTests</c>.</summary>
public class HostileConfigTests
{
    /// <summary>Generous bounds for a refusal (it takes milliseconds), not a benchmark.</summary>
    private static readonly TimeSpan RefusalTime = TimeSpan.FromSeconds(5);
    private const long RefusalAllocationBytes = 200L * 1024 * 1024;

    public static TheoryData<string, int, string> AliasBombs => new()
    {
        { HostileYaml.BillionLaughs, HostileYaml.BillionLaughsError.Line, HostileYaml.BillionLaughsError.Message },
        { HostileYaml.AliasedServicesAndBackends, HostileYaml.AliasedServicesAndBackendsError.Line, HostileYaml.AliasedServicesAndBackendsError.Message },
    };

    [Theory]
    [MemberData(nameof(AliasBombs))]
    public void Parse_AliasBomb_RefusedAtTheAliasPastTheLimit(string yaml, int line, string message)
    {
        // The parse runs on this thread, so this thread's allocations are all of it (other tests run in parallel).
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();

        var errors = Errors(yaml);

        clock.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.Equal([$"lb.yaml:{line}: {message}"], errors);
        Assert.True(clock.Elapsed < RefusalTime, $"refused after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(allocated < RefusalAllocationBytes, $"allocated {allocated / (1024 * 1024)} MiB to refuse it");
    }

    [Fact]
    public void Parse_AliasedServicesAndBackends_IsAbout10KB()
    {
        Assert.InRange(HostileYaml.AliasedServicesAndBackends.Length, 9_000, 11_000);
    }

    [Fact]
    public void Parse_NestingPastTheLimit_RefusedAtTheLevelPastIt()
    {
        // The root mapping is the first level, so the 64th '[' on line 2 opens the 65th. The process-level test
        // has 100,000 levels.
        var yaml = "services:\n  " + new string('[', 64) + new string(']', 64) + "\n";

        AssertSingleError(yaml, "lb.yaml:2: lists and mappings nest deeper than 64 levels here");
    }

    [Fact]
    public void Parse_NestingAtTheLimit_IsReadAsUsual()
    {
        var yaml = "services:\n  " + new string('[', 63) + new string(']', 63) + "\n";

        AssertSingleError(yaml, "lb.yaml:2: each service must be a mapping (name: ..., vip: ..., ...)");
    }

    [Fact]
    public void Parse_AliasNestingPastTheLimit_RefusedAtTheAlias()
    {
        // The anchored node is 39 levels of lists (40 with the root mapping); the alias puts it under 30 more.
        var yaml = $"""
            a: &deep {new string('[', 39)}{new string(']', 39)}
            b: {new string('[', 29)}*deep{new string(']', 29)}
            """;

        AssertSingleError(yaml, "lb.yaml:2: alias *deep nests lists and mappings deeper than 64 levels here");
    }

    [Fact]
    public void Parse_AliasInsideTheNodeItNames_Refused()
    {
        var yaml = """
            services: &all
              - name: web
                backends: *all
            """;

        AssertSingleError(yaml, "lb.yaml:3: alias *all is inside the node it names, so it would never end");
    }

    [Fact]
    public void Parse_AnchorRedefined_AliasNamesTheLatest()
    {
        // The inner &x hides the outer one while it is still open, so *x is the scalar, not a loop.
        var yaml = Minimal(top: "hash_seed: &x [&x 7, *x]");

        Assert.Equal(["lb.yaml:1: hash_seed must be a single value, not a list"], Errors(yaml));
    }

    [Fact]
    public void Parse_SharedHealthAndPool_LoadForEveryService()
    {
        var yaml = """
            services:
              - name: web
                vip: &vip 10.99.0.100
                port: 80
                interface: eth0
                health: &check
                  type: tcp
                  interval: 5s
                backends: &pool
                  - name: web1
                    address: 10.99.1.11
                  - name: web2
                    address: 10.99.1.12
              - name: web-tls
                vip: *vip
                port: 443
                interface: eth0
                health: *check
                backends: *pool
            """;

        var config = Load(yaml);

        Assert.All(config.Services, s => Assert.Equal(TimeSpan.FromSeconds(5), s.Health.Interval));
        Assert.All(config.Services, s => Assert.Equal(["web1", "web2"], s.Backends.Select(b => b.Name)));
    }

    [Fact]
    public void Parse_PoolOf50AliasedBy200Services_Loads()
    {
        // 200 aliases of a 50-backend pool (351 nodes) stand for 70,200 nodes: a large config, within the limit.
        var backends = string.Concat(Enumerable.Range(1, 50).Select(i => $"\n      - {{name: web{i}, address: 10.99.1.{i}, weight: 100}}"));
        var services = string.Concat(Enumerable.Range(2, 199).Select(i => $"\n  - {{name: web{i}, vip: 10.99.0.100, port: {i}, interface: eth0, backends: *pool}}"));
        var yaml = $"services:\n  - name: web1\n    vip: 10.99.0.100\n    port: 1\n    interface: eth0\n    backends: &pool{backends}{services}\n";

        var config = Load(yaml);

        Assert.Equal(200, config.Services.Count);
        Assert.All(config.Services, s => Assert.Equal(50, s.Backends.Count));
    }

    [Fact]
    public void Parse_MergeKey_SaysToAliasTheWholeMapping()
    {
        var yaml = """
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                interface: eth0
                health: &check {type: tcp}
                backends: [{name: web1, address: 10.99.1.11}]
              - name: web-tls
                vip: 10.99.0.100
                port: 443
                interface: eth0
                health: {<<: *check, interval: 5s}
                backends: [{name: web1, address: 10.99.1.11}]
            """;

        Assert.Equal(
        [
            "lb.yaml:12: merge keys ('<<') are not supported; alias the whole mapping instead (e.g. health: *hc)",
            "lb.yaml:12: missing required key 'type'",
        ], Errors(yaml));
    }

    // ---- files that are not regular files --------------------------------------------------------

    [Theory]
    [InlineData("/proc/self/status")]
    [InlineData("/dev/null")]
    [InlineData("/dev/zero")]
    public void Load_NotARegularFile_RefusedWithoutReadingIt(string path)
    {
        var result = ConfigLoader.Load(path);

        var expected = path.StartsWith("/dev/", StringComparison.Ordinal)
            ? "is a character device, not a regular file; the config must be a regular file"
            : "is empty (as a /proc file shows); the config must be a regular file with contents";
        Assert.Equal([$"{path}:0: {expected}"],
            Lines(result));
    }

    [Fact]
    public async Task Load_Fifo_RefusedWithoutWaitingForAWriter()
    {
        using var fifo = new TempFifo();

        // On another thread so that, were it to block in open(2), the test fails instead of hanging.
        var result = await Task.Run(() => ConfigLoader.Load(fifo.Path)).WaitAsync(RefusalTime);

        Assert.Equal([$"{fifo.Path}:0: is a FIFO, not a regular file; the config must be a regular file"],
            Lines(result));
    }

    [Fact]
    public void Load_EmptyFile_Refused()
    {
        using var file = new TempFile("");

        Assert.Equal([$"{file.Path}:0: is empty (as a /proc file shows); the config must be a regular file with contents"],
            Lines(ConfigLoader.Load(file.Path)));
    }

    [Fact]
    public void Load_SymbolicLinkToAConfig_Loads()
    {
        using var file = new TempFile(Minimal());
        var link = file.Path + ".link";
        File.CreateSymbolicLink(link, file.Path);
        try
        {
            Assert.Equal("web", Assert.Single(AssertValid(ConfigLoader.Load(link)).Services).Name);
        }
        finally
        {
            File.Delete(link);
        }
    }

    [Fact]
    public void Load_FileOverTheLimit_Refused()
    {
        using var file = new TempFile("");
        using (var stream = File.OpenWrite(file.Path)) stream.SetLength(ConfigLimits.MaxFileBytes + 1);

        Assert.Equal([$"{file.Path}:0: config file is too large ({ConfigLimits.MaxFileBytes + 1} bytes, the limit is {ConfigLimits.MaxFileBytes})"],
            Lines(ConfigLoader.Load(file.Path)));
    }

    [Fact]
    public async Task Parse_KeyFileIsAFifo_RefusedWithoutWaitingForAWriter()
    {
        using var fifo = new TempFifo();
        var yaml = Minimal(top: $"ha:\n  sync: {{peer: 10.99.1.3, key_file: {fifo.Path}}}");

        var errors = await Task.Run(() => Errors(yaml)).WaitAsync(RefusalTime);

        Assert.Equal([$"lb.yaml:2: key_file '{fifo.Path}': is a FIFO, not a regular file"], errors);
    }
}
