using System.Diagnostics;
using System.Threading.Channels;

namespace LoadBalancer.Hosting.Events;

/// <summary>What changed: a backend's health, intent, soft-stop or weight, a CLUSTERIP node's health, the HA role.</summary>
public enum StateChangeKind { Health, Intent, SoftStop, Weight, Node, Role }

/// <summary>One state change. <paramref name="Service"/> and <paramref name="Backend"/> are empty for the HA role.</summary>
public sealed record StateChange(string Service, string Backend, StateChangeKind Kind, string Old, string New, string Reason)
{
    public static string KindName(StateChangeKind kind) => kind switch
    {
        StateChangeKind.SoftStop => "soft_stop",
        _ => kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>Every state change is one event: a log line, a count per service and kind (status, and
/// <c>lb_state_changes_total</c>), and, when the service names a <c>notify:</c> script, a run of it with the
/// arguments SERVICE BACKEND OLD NEW REASON (keepalived's notify idea). A service's runs start in the order of its
/// changes, one at a time, on a thread of their own: a slow or hanging script never blocks the engine, and is killed
/// (with its children) and logged after <see cref="ScriptTimeout"/>. A service whose script falls more than
/// <see cref="QueueLimit"/> events behind loses the oldest, counted and logged.</summary>
public sealed class StateEvents : IDisposable
{
    public const int QueueLimit = 1024;

    private readonly EngineLog _log;
    private readonly Func<string, string?> _scriptOf;
    private readonly object _gate = new();
    private readonly Dictionary<(string Service, StateChangeKind Kind), long> _counts = new();
    private readonly Dictionary<string, Channel<(string Script, StateChange Change)>> _queues = new(StringComparer.Ordinal);
    private readonly List<Task> _runners = new();
    private readonly CancellationTokenSource _stop = new();
    private long _lost;

    /// <param name="scriptOf">The service's <c>notify:</c> script now (the config can change by reload).</param>
    public StateEvents(EngineLog log, Func<string, string?> scriptOf, TimeSpan? scriptTimeout = null)
    {
        _log = log;
        _scriptOf = scriptOf;
        ScriptTimeout = scriptTimeout ?? TimeSpan.FromSeconds(10);
    }

    public TimeSpan ScriptTimeout { get; }

    /// <summary>Scripts runs lost to a full queue.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    public void Record(StateChange change)
    {
        var who = change.Kind == StateChangeKind.Role ? "ha" : $"{change.Service}/{change.Backend}";
        var line = $"event {who} {StateChange.KindName(change.Kind)} {change.Old} -> {change.New}: {change.Reason}";
        // A backend going down is a warning to the journal, as the checker's own line is.
        if (change.New == "unhealthy" && change.Kind is StateChangeKind.Health or StateChangeKind.Node) _log.BackendDown(line);
        else _log.Info(line);
        Channel<(string, StateChange)>? queue = null;
        var script = change.Kind == StateChangeKind.Role ? null : _scriptOf(change.Service);
        lock (_gate)
        {
            _counts[(change.Service, change.Kind)] = _counts.GetValueOrDefault((change.Service, change.Kind)) + 1;
            if (script is not null && !_stop.IsCancellationRequested && !_queues.TryGetValue(change.Service, out queue))
            {
                queue = Channel.CreateBounded<(string, StateChange)>(new BoundedChannelOptions(QueueLimit)
                {
                    FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true,
                }, dropped =>
                {
                    Interlocked.Increment(ref _lost);
                    _log.Warn($"notify {dropped.Item1}: {dropped.Item2.Service} is more than {QueueLimit} events behind; the oldest was not run");
                });
                _queues[change.Service] = queue;
                var reader = queue.Reader;
                _runners.Add(Task.Factory.StartNew(() => Run(reader), TaskCreationOptions.LongRunning));
            }
        }
        queue?.Writer.TryWrite((script!, change));
    }

    /// <summary>Events so far per service and kind.</summary>
    public IReadOnlyList<(string Service, string Kind, long Count)> Counts()
    {
        lock (_gate) return _counts.OrderBy(c => c.Key.Service, StringComparer.Ordinal).ThenBy(c => c.Key.Kind)
            .Select(c => (c.Key.Service, StateChange.KindName(c.Key.Kind), c.Value)).ToArray();
    }

    private void Run(ChannelReader<(string Script, StateChange Change)> reader)
    {
        try
        {
            while (reader.WaitToReadAsync(_stop.Token).AsTask().GetAwaiter().GetResult())
                while (reader.TryRead(out var item)) RunOnce(item.Script, item.Change);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void RunOnce(string script, StateChange c)
    {
        var psi = new ProcessStartInfo(script) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var a in new[] { c.Service, c.Backend, c.Old, c.New, c.Reason }) psi.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(ScriptTimeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                _log.Warn($"notify {script} {c.Service} {c.Backend} {c.Old} {c.New}: killed after {ScriptTimeout.TotalSeconds:0} s");
                return;
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
                _log.Warn($"notify {script} {c.Service} {c.Backend} {c.Old} {c.New}: exit {process.ExitCode} {Tail(stderr.Result)}");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            _log.Warn($"notify {script}: cannot run it: {e.Message}");
        }
    }

    private static string Tail(string text)
    {
        text = text.Trim().ReplaceLineEndings(" ");
        return text.Length <= 200 ? text : text[^200..];
    }

    public void Dispose()
    {
        Task[] runners;
        lock (_gate)
        {
            _stop.Cancel();
            foreach (var q in _queues.Values) q.Writer.TryComplete();
            runners = _runners.ToArray();
        }
        // A script running now gets its timeout, at most, then the engine goes on stopping.
        Task.WaitAll(runners, ScriptTimeout + TimeSpan.FromSeconds(1));
    }
}
