using System.Text.Json;
using LoadBalancer.Cli.Configuration;
using LoadBalancer.Cli.Control;
using LoadBalancer.Hosting;
using LoadBalancer.TestKit;

namespace LoadBalancer.Cli.Tests.Control;

/// <summary><c>reload {json}</c> on the control socket: the engine reads the file itself, answers its changes or
/// the file's problems as <c>FILE:LINE: message</c> under the name the caller gave.</summary>
public sealed class ReloadRequestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lb-reload-").FullName;
    private readonly Engine _engine;
    private readonly ControlCommands _commands;

    public ReloadRequestTests()
    {
        var path = Write("start.yaml", Yaml(backends: "      - {name: a, address: 10.0.1.1, mac: \"02:00:00:00:01:01\"}\n"));
        var loaded = ConfigLoader.Load(path);
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Errors));
        _engine = EngineBuilder.Build(loaded.Config!, new FakePlatform(Fixtures.Interfaces).Platform);
        _commands = new ControlCommands(_engine, new ConfigReload(_engine, new EngineLog(TextWriter.Null)));
    }

    public void Dispose()
    {
        _engine.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string Yaml(string backends, string head = "") =>
        $"{head}control_socket: /tmp/lb-reload-test.sock\nservices:\n  - name: web\n    vip: 10.0.0.10\n    port: 80\n    protocol: tcp\n" +
        $"    mode: dr\n    interface: {Fixtures.InterfaceName}\n    backends:\n{backends}";

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private JsonElement Reload(string path, string name) =>
        JsonDocument.Parse(_commands.Handle("reload " + JsonSerializer.Serialize(new { path, name }))).RootElement;

    private static string[] Lines(JsonElement answer) => answer.GetProperty("lines").EnumerateArray().Select(l => l.GetString()!).ToArray();

    [Fact]
    public void Reload_ChangedFile_AnswersOneLinePerChange()
    {
        var path = Write("next.yaml", Yaml("      - {name: a, address: 10.0.1.1, mac: \"02:00:00:00:01:01\", weight: 5}\n" +
                                           "      - {name: b, address: 10.0.1.2, mac: \"02:00:00:00:01:02\"}\n"));

        var answer = Reload(path, "next.yaml");

        Assert.True(answer.GetProperty("ok").GetBoolean(), answer.ToString());
        Assert.Equal(["backend web/a changed: weight 100 -> 5", "backend web/b added (10.0.1.2, weight 100)"], Lines(answer));
        Assert.Equal(2, _engine.State.Current.Services[0].Backends.Length);
    }

    [Fact]
    public void Reload_InvalidFile_AnswersFileLineMessageUnderTheGivenName_AndChangesNothing()
    {
        var before = _engine.State.Current;
        var path = Write("bad.yaml", Yaml("      - {name: a, address: 10.0.1.300}\n"));

        var answer = Reload(path, "given/bad.yaml");

        Assert.True(answer.TryGetProperty("error", out _));
        Assert.All(Lines(answer), l => Assert.StartsWith("given/bad.yaml:10: ", l));
        Assert.Same(before, _engine.State.Current);
    }

    [Fact]
    public void Reload_RestartOnlyKey_RefusedWithItsLine()
    {
        var path = Write("workers.yaml", Yaml("      - {name: a, address: 10.0.1.1, mac: \"02:00:00:00:01:01\"}\n", head: "workers: 3\n"));

        var answer = Reload(path, "workers.yaml");

        Assert.Equal(["workers.yaml:1: workers (1 now, 3 in the file) cannot change while the engine runs: a restart is needed (lb reload changed nothing)"],
            Lines(answer));
    }

    [Fact]
    public void Reload_RelativePath_Refused()
    {
        var answer = JsonDocument.Parse(_commands.Handle("reload {\"path\":\"lb.yaml\"}")).RootElement;

        Assert.Contains("absolute path", answer.GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
