using System.Runtime.InteropServices;
using LoadBalancer.Cli.Configuration;
using LoadBalancer.Cli.Control;
using LoadBalancer.Cli.Platform;
using LoadBalancer.Cli.ServiceManager;
using LoadBalancer.Hosting;
using LoadBalancer.Hosting.Platform;
using LoadBalancer.Linux.Kernel;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb run --config FILE</c>: runs the engine in the foreground until SIGTERM or SIGINT,
/// then removes its ingress drops and control socket. SIGHUP re-reads the file it was started with, as
/// <c>lb reload</c> does. Exit 0 on a clean stop, 1 when the engine
/// failed (an interface deleted under it, too), 2 when the config is invalid or another engine already serves one
/// of its interfaces or its control socket (that engine is left untouched), or when an exec check names a <c>user:</c>
/// it cannot become. It needs CAP_NET_RAW and CAP_NET_ADMIN in its effective set, not root (<see cref="RunPrivileges"/>):
/// without either it exits 1 naming the missing one, as it does when a CLUSTERIP service's TAP cannot be opened. Under a
/// service manager (NOTIFY_SOCKET) it says READY=1 once it serves, RELOADING=1/READY=1 around each reload, STOPPING=1 when
/// told to stop, and WATCHDOG=1 while its loops move (WATCHDOG_USEC); with stderr the journal (JOURNAL_STREAM) each line
/// carries its syslog priority.</summary>
internal static class RunCommand
{
    /// <summary>How long READY=1 waits for the loops to run and the neighbours' MACs (<see cref="Engine.WaitUntilServing"/>).</summary>
    private static readonly TimeSpan ServingTimeout = TimeSpan.FromSeconds(5);

    public static int Run(string path, bool withHealthChecker, TextWriter stdout, TextWriter stderr)
    {
        var log = new EngineLog(stderr, journal: JournalStream.IsStderr());
        var loaded = ConfigLoader.Load(path);
        if (loaded.Config is null)
        {
            foreach (var e in loaded.Errors) log.Line(LogPriority.Error, e.ToString());
            return 2;
        }
        // The capabilities themselves, not root: a service user holding just these two runs every mode.
        if (RunPrivileges.Missing(ProcessPrivileges.EffectiveCapabilities()) is { } missing)
        {
            log.Line(LogPriority.Error, missing);
            return 1;
        }
        if (RunPrivileges.TunAccess(loaded.Config, Linux.Packet.TapDevice.CannotOpen) is { } tun)
        {
            log.Line(LogPriority.Error, tun);
            return 1;
        }
        if (withHealthChecker)
        {
            var unreachable = RunPrivileges.UnreachableUsers(loaded.Config, path, ProcessPrivileges.EffectiveUid, Environment.UserName);
            foreach (var e in unreachable) log.Line(LogPriority.Error, e.ToString());
            if (unreachable.Count > 0) return 2;
        }

        using var notifier = ServiceManagerNotifier.FromEnvironment(log, Linux.Kernel.MonotonicClock.Microseconds);
        ServiceManagerWatchdog? watchdog = null;
        using var stopRequested = new ManualResetEventSlim(false);
        // .NET started from a non-interactive shell's background job inherits an ignored SIGINT
        // (../shared/LAB.md item 8); SIGTERM is the signal that always works, so handle both.
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, OnSignal);
        ConfigReload? reload = null;
        using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnHangup);

        Engine? engine = null;
        ControlServer? control = null;
        Http.StatusHttpServer? http = null;
        Task? checker = null;
        var failed = false;
        var refused = false;
        try
        {
            // Refuse before touching the kernel: a second engine must not replace (and on exit remove)
            // the first one's ingress drop.
            ControlServer.EnsureAvailable(loaded.Config.ControlSocket);
            engine = EngineBuilder.Build(loaded.Config, LinuxPlatform.Create(loaded.Config, log), new EngineOptions { Log = log });
            engine.Start();
            var reloader = new ConfigReload(engine, log)
            {
                Starting = () => notifier.Reloading("reloading"),
                Finished = () => notifier.Ready(Serving(engine)),
            };
            if (withHealthChecker) checker = StartHealthChecker(loaded.Config, engine, reloader, log);
            var access = new ControlAccess(ProcessPrivileges.EffectiveUid, Environment.UserName, loaded.Config.ControlAdminGroup);
            control = ControlServer.Start(loaded.Config.ControlSocket, loaded.Config.ControlGroup, engine, reloader, access, log);
            reload = reloader;
            if (loaded.Config.Http is { } httpConfig) http = Http.StatusHttpServer.Start(httpConfig.Listen, engine, log);
            if (engine.WaitUntilServing(ServingTimeout) is { Count: > 0 } absent)
                log.Warn($"serving without everything in place after {ServingTimeout.TotalSeconds:0} s: {string.Join(", ", absent)}");
            log.Info($"ready: control socket {loaded.Config.ControlSocket}");
            notifier.Ready(Serving(engine));
            if (notifier.Enabled && ServiceManagerWatchdog.Timeout(Environment.GetEnvironmentVariable, Environment.ProcessId) is { } timeout)
            {
                watchdog = new ServiceManagerWatchdog(notifier, timeout, engine.Loops, log, TimeProvider.System);
                watchdog.Start();
                log.Info($"watchdog: WATCHDOG=1 every {watchdog.Interval.TotalMilliseconds:0} ms while the {engine.Loops.Count} data-path loops move");
            }
            WaitHandle.WaitAny([stopRequested.WaitHandle, engine.Stopping.WaitHandle]);
            failed = engine.Stopping.IsCancellationRequested && !stopRequested.IsSet;
        }
        catch (Exception e) when (e is InterfaceInUseException or ControlSocketInUseException)
        {
            log.Error(e.Message);
            refused = true;
        }
        catch (Exception e) when (e is InvalidOperationException or Linux.Interop.NativeException or IOException or UnauthorizedAccessException
                                       or System.Net.Sockets.SocketException or RealServer.NetworkControlException)
        {
            log.Error(e.Message);
            failed = true;
        }
        finally
        {
            // First: the service manager knows the stop is ours, and the watchdog must not take the loops ending
            // during the teardown for a stall.
            notifier.Stopping("stopping");
            watchdog?.Dispose();
            log.Info("stopping");
            engine?.Stop();
            checker?.Wait(TimeSpan.FromSeconds(5));
            http?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
            control?.Dispose();
            engine?.Dispose();
            log.Info("stopped");
        }
        return refused ? 2 : failed ? 1 : 0;

        // Started even with nothing to check: a reload may add checks.
        static Task StartHealthChecker(Core.Model.BalancerConfig config, Engine engine, ConfigReload reload, EngineLog log)
        {
            var targets = Health.HealthTargets.From(config);
            var checker = new LoadBalancer.Health.HealthChecker(targets, new Health.EngineHealthSink(engine.Control, log), TimeProvider.System,
                log: log.Info, logDown: log.BackendDown);
            reload.Checker = checker;
            if (targets.Count > 0) log.Info($"health checker started for {targets.Count} backends (in-process)");
            return Task.Run(() => checker.RunAsync(engine.Stopping));
        }

        static string Serving(Engine engine) => $"serving {engine.Config.Services.Count} services";

        void OnHangup(PosixSignalContext context)
        {
            context.Cancel = true;
            if (reload is not { } r || loaded.Config.SourcePath is not { } source) return;
            log.Info($"SIGHUP: reloading {source}");
            // Off the signal thread: a reload counts flows and rebuilds tables.
            ThreadPool.QueueUserWorkItem(_ =>
            {
                var outcome = r.Apply(source, source);
                if (outcome.Ok) log.Info($"SIGHUP: reloaded {source} ({string.Join("; ", outcome.Lines)})");
            });
        }

        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stopRequested.Set();
        }
    }
}
