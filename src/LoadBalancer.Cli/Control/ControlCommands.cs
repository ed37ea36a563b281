using System.Globalization;
using System.Text.Json;
using LoadBalancer.Core.Model;
using LoadBalancer.Hosting;
using LoadBalancer.Health;

namespace LoadBalancer.Cli.Control;

/// <summary>The requests the control socket understands, one line each:
/// <c>status</c>; <c>flow SERVICE IP:PORT</c> and <c>flows SERVICE [backend NAME] [limit N]</c> (<see cref="FlowReport"/>);
/// <c>backend drain|enable SERVICE BACKEND</c>; <c>backend weight SERVICE BACKEND N</c>;
/// <c>health {json}</c> (a check result from an external <c>lb healthcheck</c>); <c>ha master|backup|fault [by WHO]</c>
/// (what keepalived decided, with who asked, for the log); <c>reload {"path":...,"name":...}</c> (<see cref="ConfigReload"/>).
/// Answers are one JSON object: the status document, <c>{"ok":true,"message":...}</c> or <c>{"error":...}</c>; a
/// reload's carries its <c>lines</c> too (the changes, or the refusals as <c>FILE:LINE: message</c>).
/// With <paramref name="access"/>, a request that changes the engine from a peer that may not send it is answered
/// <c>{"error":...}</c> saying why, and logged with the peer's uid; without it (tests, in-process) all are served.</summary>
internal sealed class ControlCommands(Engine engine, ConfigReload? reload = null, ControlAccess? access = null, EngineLog? log = null)
{
    public string Handle(string request, ControlPeer? peer = null)
    {
        var space = request.IndexOf(' ');
        var verb = space < 0 ? request : request[..space];
        var rest = space < 0 ? "" : request[(space + 1)..].Trim();
        if (access is not null && ControlAccess.Changes(verb))
        {
            var refusal = peer is null ? $"{verb} refused: the caller's credentials are unknown" : access.Refusal(verb, peer);
            if (refusal is not null)
            {
                log?.Warn($"control: {refusal} (pid {peer?.Pid.ToString(CultureInfo.InvariantCulture) ?? "unknown"})");
                return Error(refusal);
            }
        }
        return verb switch
        {
            "status" => StatusReport.Json(engine),
            "flow" => FlowReport.Flow(engine, Words(rest), out var error) ?? Error(error!),
            "flows" => FlowReport.Flows(engine, Words(rest), out var error) ?? Error(error!),
            "backend" => Backend(Words(rest)),
            "health" => Health(rest),
            "ha" => Ha(rest),
            "reload" => Reload(rest),
            _ => Error($"unknown request '{verb}'"),
        };
    }

    private static string[] Words(string rest) => rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private string Backend(string[] args)
    {
        if (args.Length < 3) return Error("usage: backend drain|enable SERVICE BACKEND, or backend weight SERVICE BACKEND N");
        var (action, service, backend) = (args[0], args[1], args[2]);
        ControlResult result;
        switch (action)
        {
            case "drain" when args.Length == 3:
                result = engine.Control.SetIntent(service, backend, BackendIntent.Draining);
                break;
            case "enable" when args.Length == 3:
                result = engine.Control.SetIntent(service, backend, BackendIntent.Active);
                break;
            case "weight" when args.Length == 4:
                if (!int.TryParse(args[3], NumberStyles.None, CultureInfo.InvariantCulture, out var weight) || weight > Configuration.ConfigLimits.MaxWeight)
                    return Error($"weight must be 0..{Configuration.ConfigLimits.MaxWeight}, got '{args[3]}'");
                result = engine.Control.SetWeight(service, backend, weight);
                break;
            default:
                return Error("usage: backend drain|enable SERVICE BACKEND, or backend weight SERVICE BACKEND N");
        }
        return Answer(result);
    }

    private string Ha(string rest)
    {
        const string usage = "usage: ha master|backup|fault [by WHO]";
        var words = rest.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0 || !ModeNames.TryParse(ModeNames.HaRoles, words[0], out var role)) return Error(usage);
        if (words.Length == 2 || (words.Length == 3 && words[1] != "by")) return Error(usage);
        var result = engine.Roles.Set(role, words.Length == 3 ? words[2] : "the control socket");
        return Answer(result);
    }

    private string Reload(string json)
    {
        ReloadRequest? r;
        try
        {
            r = JsonSerializer.Deserialize(json, HealthMessageJson.Default.ReloadRequest);
        }
        catch (JsonException e)
        {
            return Error($"bad reload request: {e.Message}");
        }
        if (reload is null) return Error("this engine does not reload");
        if (r?.Path is null || !Path.IsPathFullyQualified(r.Path)) return Error("bad reload request: an absolute path is required");
        var outcome = reload.Apply(r.Path, r.Name ?? r.Path);
        return JsonSerializer.Serialize(outcome.Ok
                ? new ControlAnswer(true, $"reloaded {r.Name ?? r.Path}", null, outcome.Lines)
                : new ControlAnswer(null, null, $"reload refused: {outcome.Lines.Count} problems, nothing changed", outcome.Lines),
            HealthMessageJson.Default.ControlAnswer);
    }

    private string Health(string json)
    {
        HealthMessage? m;
        try
        {
            m = JsonSerializer.Deserialize(json, HealthMessageJson.Default.HealthMessage);
        }
        catch (JsonException e)
        {
            return Error($"bad health report: {e.Message}");
        }
        if (m is null || m.Service is null || m.Backend is null || m.Health is null) return Error("bad health report: service, backend and health are required");
        if (!ModeNames.TryParse(ModeNames.Healths, m.Health, out var health)) return Error($"bad health '{m.Health}'");
        // The same route as the in-process checker's results (EngineControl.ApplyHealth).
        var result = engine.Control.ApplyHealth(new HealthReport(m.Service, m.Backend, health, m.Ok, m.Detail ?? "", m.At ?? DateTimeOffset.UtcNow,
            m.Consecutive, m.Needed, Changed: false, m.Reason, m.SoftStop));
        if (result.Error is not null) return Error(result.Error);
        return Ok(result.Changed ? "applied; table rebuilt" : "applied");
    }

    /// <summary>An operator command's result: what it did, "(no change)" when it was already so, or why it was refused.</summary>
    private static string Answer(ControlResult result) =>
        result.Error is not null ? Error(result.Error) : Ok(result.Changed ? result.Message! : result.Message + " (no change)");

    private static string Ok(string message) =>
        JsonSerializer.Serialize(new ControlAnswer(true, message, null), HealthMessageJson.Default.ControlAnswer);

    private static string Error(string message) =>
        JsonSerializer.Serialize(new ControlAnswer(null, null, message), HealthMessageJson.Default.ControlAnswer);
}

/// <summary>One check result on the wire (<c>health {json}</c>).</summary>
internal sealed record HealthMessage(string? Service, string? Backend, string? Health, bool Ok, string? Detail, DateTimeOffset? At,
    int Consecutive, int Needed, string? Reason, bool SoftStop);

internal sealed record ControlAnswer(bool? Ok, string? Message, string? Error, IReadOnlyList<string>? Lines = null);

/// <summary><c>reload {json}</c>: the config to read (absolute: the engine's working directory is not the
/// caller's) and the name the caller gave it, for the error lines.</summary>
internal sealed record ReloadRequest(string? Path, string? Name);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(HealthMessage))]
[System.Text.Json.Serialization.JsonSerializable(typeof(ControlAnswer))]
[System.Text.Json.Serialization.JsonSerializable(typeof(ReloadRequest))]
internal sealed partial class HealthMessageJson : System.Text.Json.Serialization.JsonSerializerContext;
