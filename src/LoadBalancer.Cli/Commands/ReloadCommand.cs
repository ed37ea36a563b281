using System.CommandLine;
using System.Text.Json;
using LoadBalancer.Cli.Configuration;
using LoadBalancer.Cli.Control;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb reload --config FILE [--socket PATH]</c>: the running engine (found as <c>lb status</c> finds it)
/// re-reads FILE and applies the difference with one snapshot swap. Exit 0: applied, the changes printed one per
/// line ("no changes" when there were none). Exit 2: nothing changed, the file's problems or the engine's refusals
/// printed as <c>FILE:LINE: message</c> (as <c>lb check</c> prints them). Exit 1: the engine could not be reached, or
/// refused the request itself (its error printed): a caller that is not root, the engine's user or in
/// <c>control_admin_group</c> may not reload.</summary>
internal static class ReloadCommand
{
    public static Command Build()
    {
        var config = new Option<string>("--config") { Description = "The configuration file to apply (the engine reads it itself)", Required = true };
        var socket = new Option<string>("--socket") { Description = "The engine's control socket (default: the file's control_socket)" };
        var command = new Command("reload", "Apply a changed configuration to the running engine, keeping flows, sessions, counters and health") { config, socket };
        command.SetAction(r => Run(r.GetValue(config)!, r.GetValue(socket), Console.Out, Console.Error));
        return command;
    }

    public static int Run(string path, string? socketPath, TextWriter stdout, TextWriter stderr)
    {
        // Read once here, with lb check's own words (ConfigError lines on stdout): an invalid file never reaches the
        // engine; a valid one names the engine's socket.
        var loaded = ConfigLoader.Load(path);
        if (loaded.Config is not { } config)
        {
            foreach (var e in loaded.Errors) stdout.WriteLine(e.ToString());
            return CheckCommand.ExitInvalid;
        }
        var request = "reload " + JsonSerializer.Serialize(new ReloadRequest(Path.GetFullPath(path), path), HealthMessageJson.Default.ReloadRequest);
        var code = EngineSocket.Ask(null, socketPath ?? config.ControlSocket, request, stderr, out var response);
        if (code != 0) return code;
        using var doc = JsonDocument.Parse(response);
        var root = doc.RootElement;
        if (root.TryGetProperty("lines", out var lines))
            foreach (var line in lines.EnumerateArray()) stdout.WriteLine(line.GetString());
        if (root.TryGetProperty("error", out var error))
        {
            if (root.TryGetProperty("lines", out _)) return CheckCommand.ExitInvalid;
            // Not the file: the request itself was refused (the caller may not reload, a malformed request).
            stderr.WriteLine(error.GetString());
            return 1;
        }
        return 0;
    }
}
