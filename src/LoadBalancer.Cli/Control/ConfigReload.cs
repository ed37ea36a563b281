using LoadBalancer.Cli.Configuration;
using LoadBalancer.Cli.Health;
using LoadBalancer.Health;
using LoadBalancer.Hosting;

namespace LoadBalancer.Cli.Control;

/// <summary>A live reload as <c>lb run</c> does it, for <c>lb reload</c> (over the control socket) and SIGHUP alike:
/// the file is read and validated exactly as <c>lb check</c> reads it, the engine moves to it with one snapshot
/// swap (<see cref="Engine.Reload"/>), then the in-process health checker gets its new targets, so a check result
/// never names a backend the table does not have yet. One reload at a time.</summary>
internal sealed class ConfigReload(Engine engine, EngineLog log)
{
    private readonly object _gate = new();

    /// <summary>The in-process checker, when <c>lb run</c> has one; an external <c>lb healthcheck</c> reads its
    /// own config and is reloaded on its own.</summary>
    public HealthChecker? Checker { get; set; }

    /// <summary>Told around every reload (the service manager's RELOADING=1 and READY=1).</summary>
    public Action? Starting { get; set; }
    public Action? Finished { get; set; }

    /// <summary>Reads <paramref name="path"/> and applies it. <paramref name="name"/> is the file as the operator
    /// named it, used in the <c>FILE:LINE: message</c> lines.</summary>
    public ReloadOutcome Apply(string path, string name)
    {
        lock (_gate)
        {
            Starting?.Invoke();
            try
            {
                return Load(path, name);
            }
            finally
            {
                Finished?.Invoke();
            }
        }
    }

    private ReloadOutcome Load(string path, string name)
    {
        var loaded = ConfigLoader.Load(path);
        if (loaded.Config is not { } next)
        {
            var lines = loaded.Errors.Select(e => (e with { File = e.File == path ? name : e.File }).ToString()).ToArray();
            log.Warn($"reload refused: {name} is invalid ({lines.Length} errors; nothing changed)");
            return new ReloadOutcome(false, lines);
        }
        if (!CheckerCanRun(next, name, out var unreachable)) return new ReloadOutcome(false, unreachable);
        var result = engine.Reload(next);
        if (!result.Ok)
        {
            var lines = result.Refusals.Select(r => new ConfigError(name, r.Line, r.Message).ToString()).ToArray();
            foreach (var line in lines) log.Warn($"reload refused: {line}");
            return new ReloadOutcome(false, lines);
        }
        if (Checker is { } checker)
        {
            var update = checker.Update(HealthTargets.From(next));
            if (update.Restarted + update.Added + update.Removed > 0)
                log.Info($"health checks: {update.Kept} kept, {update.Restarted} restarted, {update.Added} added, {update.Removed} stopped");
        }
        return new ReloadOutcome(true, result.Changes.Count == 0 ? ["no changes"] : result.Changes);
    }

    /// <summary>False, with the lines, when the in-process checker could not run an exec check of
    /// <paramref name="next"/> as configured (a <c>user:</c> other than a non-root engine's own), as <c>lb run</c>
    /// would refuse it at start.</summary>
    private bool CheckerCanRun(Core.Model.BalancerConfig next, string name, out string[] lines)
    {
        lines = [];
        if (Checker is null) return true;
        var errors = Commands.RunPrivileges.UnreachableUsers(next, name, Linux.Kernel.ProcessPrivileges.EffectiveUid, Environment.UserName);
        lines = errors.Select(e => e.ToString()).ToArray();
        foreach (var line in lines) log.Warn($"reload refused: {line}");
        return lines.Length == 0;
    }
}

/// <summary>What <c>lb reload</c> prints: the changes, one per line (or "no changes"), or the refusals as
/// <c>FILE:LINE: message</c>.</summary>
internal sealed record ReloadOutcome(bool Ok, IReadOnlyList<string> Lines);
