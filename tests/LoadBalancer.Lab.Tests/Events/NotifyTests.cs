using LoadBalancer.Lab.Tests.Http;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.Events;

/// <summary>A service's <c>notify:</c> script run by the real engine at each state change: a drain, an enable and a
/// stopped nginx, in order, with SERVICE BACKEND OLD NEW REASON; a hanging script is cut off and the engine forwards on.</summary>
public sealed class NotifyTests(HttpLab lab, ITestOutputHelper output) : IClassFixture<HttpLab>
{
    private string Script(string name, string body)
    {
        var path = Path.Combine(lab.Lab.Dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private CommandResult Lb(string args) =>
        Shell.Run("dotnet", [LabEnvironment.LbDll, .. args.Split(' '), "--socket", lab.Socket], TimeSpan.FromSeconds(20));

    [LabFact]
    public void DrainEnableAndAStoppedBackend_RunTheScriptInOrder()
    {
        var record = Path.Combine(lab.Lab.Dir, "events.txt");
        File.Delete(record);
        using var engine = lab.Start(Script("record.sh", $"printf '%s|%s|%s|%s|%s\\n' \"$1\" \"$2\" \"$3\" \"$4\" \"$5\" >> {record}"));
        var net = lab.Lab;
        try
        {
            // The start's own events first: each backend unknown -> healthy.
            Retry.Until(() => File.Exists(record) && File.ReadAllLines(record).Length == 2, TimeSpan.FromSeconds(10), "the start's two events");
            Assert.All(File.ReadAllLines(record), l => Assert.Contains("|unknown|healthy|", l, StringComparison.Ordinal));
            Assert.Equal(0, Lb("backend drain web rs1").ExitCode);
            Assert.Equal(0, Lb("backend enable web rs1").ExitCode);
            lab.Server(2, running: false);
            Retry.Until(() => File.ReadAllLines(record).Length >= 5, TimeSpan.FromSeconds(10), "three more events recorded");

            var lines = File.ReadAllLines(record).Skip(2).ToArray();
            output.WriteLine(string.Join("\n", lines));
            Assert.Equal("web|rs1|active|draining|operator", lines[0]);
            Assert.Equal("web|rs1|draining|active|operator", lines[1]);
            Assert.StartsWith("web|rs2|healthy|unhealthy|rs2 unhealthy: ", lines[2], StringComparison.Ordinal);
            using var status = engine.Status();
            Assert.Contains(status.RootElement.GetProperty("state_changes").EnumerateArray(),
                c => c.GetProperty("kind").GetString() == "intent" && c.GetProperty("count").GetInt64() == 2);
            Assert.Contains("lb_state_changes_total{service=\"web\",kind=\"intent\"} 2", lab.Get("/metrics").Stdout);
        }
        finally
        {
            lab.Server(2, running: true);
        }
    }

    [LabFact]
    public void HangingScript_IsCutOffAndLogged_TheEngineForwardsMeanwhile()
    {
        var ran = Path.Combine(lab.Lab.Dir, "ran.txt");
        File.Delete(ran);
        using var engine = lab.Start(Script("hang.sh", $"echo \"$4\" >> {ran}; [ \"$4\" = draining ] && exec sleep 600; exit 0"));
        var net = lab.Lab;

        Assert.Equal(0, Lb("backend drain web rs1").ExitCode);
        Retry.Until(() => File.Exists(ran), TimeSpan.FromSeconds(5), "the script started");
        // While it hangs: the engine answers and forwards.
        var answers = net.InClient($"for i in $(seq 20); do curl -s --noproxy '*' --max-time 2 http://{net.Vip}/; echo; done", 60).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(20, answers.Count(a => a.Trim() == "rs2"));
        Assert.Equal(0, Lb("backend enable web rs1").ExitCode);

        Retry.Until(() => engine.Log.Contains("killed after 10 s", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the hanging run killed and logged");
        Retry.Until(() => File.ReadAllLines(ran).Contains("active"), TimeSpan.FromSeconds(5), "the next run after the killed one");
        Assert.False(engine.HasExited);
    }
}
