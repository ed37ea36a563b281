using System.CommandLine;
using System.Runtime.InteropServices;
using LoadBalancer.Cli.Configuration;
using LoadBalancer.Cli.Health;
using LoadBalancer.Cli.ServiceManager;
using LoadBalancer.Health;
using LoadBalancer.Hosting;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb healthcheck --config FILE [--socket PATH]</c>: the health checker alone, in its own
/// process. It opens no raw sockets and touches nothing of the data path; it only probes the backends
/// and sends each result to the engine's control socket (run the engine with <c>--no-health-checker</c>).</summary>
internal static class HealthCheckCommand
{
    public static Command Build()
    {
        var config = new Option<string>("--config") { Description = "The configuration file (YAML)", Required = true };
        var socket = new Option<string>("--socket") { Description = "The engine's control socket (default: the config's control_socket)" };
        var command = new Command("healthcheck", "Run only the health checker, reporting to the running engine") { config, socket };
        command.SetAction(r => Run(r.GetValue(config)!, r.GetValue(socket), Console.Error));
        return command;
    }

    private static int Run(string path, string? socketPath, TextWriter stderr)
    {
        var log = new EngineLog(stderr, journal: JournalStream.IsStderr());
        var loaded = ConfigLoader.Load(path);
        if (loaded.Config is null)
        {
            foreach (var e in loaded.Errors) log.Line(LogPriority.Error, e.ToString());
            return 2;
        }
        var unreachable = RunPrivileges.UnreachableUsers(loaded.Config, path, Linux.Kernel.ProcessPrivileges.EffectiveUid, Environment.UserName);
        foreach (var e in unreachable) stderr.WriteLine(e.ToString());
        if (unreachable.Count > 0) return 2;
        var targets = HealthTargets.From(loaded.Config);
        if (targets.Count == 0)
        {
            log.Info("no service has a health check; nothing to do");
            return 0;
        }
        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        var socket = socketPath ?? loaded.Config.ControlSocket;
        var checker = new HealthChecker(targets, new ControlSocketHealthSink(socket, log.Info), TimeProvider.System,
            log: log.Info, logDown: log.BackendDown);
        log.Info($"health checker for {targets.Count} backends, reporting to {socket}");
        checker.RunAsync(stop.Token).GetAwaiter().GetResult();
        log.Info("stopped");
        return 0;
    }
}
