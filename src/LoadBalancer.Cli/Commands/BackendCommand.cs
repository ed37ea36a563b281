using System.CommandLine;
using System.Text.Json;
using LoadBalancer.Cli.Control;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb backend drain|enable|weight SERVICE BACKEND [N]</c>: the operator's intent, applied to
/// the running engine through its control socket without a restart.</summary>
internal static class BackendCommand
{
    public static Command Build()
    {
        var backend = new Command("backend", "Change a backend's intent or weight on the running engine");
        backend.Subcommands.Add(Action("drain", "No new flows to this backend; existing flows continue"));
        backend.Subcommands.Add(Action("enable", "Take new flows again (undoes drain)"));
        backend.Subcommands.Add(Action("weight", "Set the backend's weight (0 drains)", withWeight: true));
        return backend;
    }

    private static Command Action(string name, string description, bool withWeight = false)
    {
        var service = new Argument<string>("SERVICE") { Description = "Service name" };
        var backendName = new Argument<string>("BACKEND") { Description = "Backend name" };
        var weight = new Argument<int>("N") { Description = "Weight, 0..1000000" };
        var config = new Option<string>("--config") { Description = "Find the engine by this config's control_socket" };
        var socket = new Option<string>("--socket") { Description = "The engine's control socket (default /run/lb/lb.sock)" };
        var command = new Command(name, description) { service, backendName, config, socket };
        if (withWeight) command.Arguments.Add(weight);
        command.SetAction(r =>
        {
            var request = $"backend {name} {r.GetValue(service)} {r.GetValue(backendName)}" + (withWeight ? $" {r.GetValue(weight)}" : "");
            return Send(r.GetValue(config), r.GetValue(socket), request, Console.Out, Console.Error);
        });
        return command;
    }

    internal static int Send(string? configPath, string? socketPath, string request, TextWriter stdout, TextWriter stderr)
    {
        if (!EngineSocket.TryResolve(configPath, socketPath, stderr, out var socket)) return 2;
        if (!ControlClient.TryRequest(socket, request, out var response))
        {
            stderr.WriteLine($"cannot reach the engine at {socket}: {response}");
            return 1;
        }
        using var doc = JsonDocument.Parse(response);
        if (doc.RootElement.TryGetProperty("error", out var error))
        {
            stderr.WriteLine(error.GetString());
            return 1;
        }
        stdout.WriteLine(doc.RootElement.GetProperty("message").GetString());
        return 0;
    }
}
