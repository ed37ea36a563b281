using System.CommandLine;
using System.Text.Json;
using LoadBalancer.Cli.Configuration;
using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb status [--json]</c>: asks the running engine over its control socket.</summary>
internal static class StatusCommand
{
    public static int Run(string? configPath, string? socketPath, bool json, TextWriter stdout, TextWriter stderr)
    {
        var code = EngineSocket.Ask(configPath, socketPath, "status", stderr, out var response);
        if (code == 0) stdout.WriteLine(json ? response : StatusReport.Text(response));
        return code;
    }
}

/// <summary>How every command that talks to the engine finds it: --socket, else the config's
/// control_socket, else the default path; and how it asks.</summary>
internal static class EngineSocket
{
    /// <summary>The <c>--config</c> and <c>--socket</c> options every such command takes (new instances: an
    /// option belongs to one command).</summary>
    public static (Option<string> Config, Option<string> Socket) Options() =>
        (new Option<string>("--config") { Description = "Find the engine by this config's control_socket" },
         new Option<string>("--socket") { Description = "The engine's control socket (default /run/lb/lb.sock)" });

    /// <summary>Sends <paramref name="request"/> to the engine: 0 and its answer, or the exit code after saying why
    /// on <paramref name="stderr"/> (2: the config could not be read; 1: "<paramref name="unreachable"/> SOCKET: why").</summary>
    public static int Ask(string? configPath, string? socketPath, string request, TextWriter stderr, out string response,
        string unreachable = "cannot reach the engine at")
    {
        response = "";
        if (!TryResolve(configPath, socketPath, stderr, out var socket)) return 2;
        if (ControlClient.TryRequest(socket, request, out response)) return 0;
        stderr.WriteLine($"{unreachable} {socket}: {response}");
        return 1;
    }

    /// <summary>A command request (<c>backend ...</c>, <c>ha ...</c>): prints the engine's message and returns 0, or
    /// prints its error and returns 1.</summary>
    public static int Send(string? configPath, string? socketPath, string request, TextWriter stdout, TextWriter stderr)
    {
        var code = Ask(configPath, socketPath, request, stderr, out var response);
        if (code != 0) return code;
        using var doc = JsonDocument.Parse(response);
        if (doc.RootElement.TryGetProperty("error", out var error))
        {
            stderr.WriteLine(error.GetString());
            return 1;
        }
        stdout.WriteLine(doc.RootElement.GetProperty("message").GetString());
        return 0;
    }

    public static bool TryResolve(string? configPath, string? socketPath, TextWriter stderr, out string socket)
    {
        socket = socketPath ?? BalancerConfig.DefaultControlSocket;
        if (socketPath is not null || configPath is null) return true;
        var loaded = ConfigLoader.Load(configPath);
        if (loaded.Config is null)
        {
            foreach (var e in loaded.Errors) stderr.WriteLine(e.ToString());
            return false;
        }
        socket = loaded.Config.ControlSocket;
        return true;
    }
}
