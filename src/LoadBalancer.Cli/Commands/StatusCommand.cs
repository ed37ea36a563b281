using LoadBalancer.Cli.Configuration;
using LoadBalancer.Cli.Control;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb status [--json]</c>: asks the running engine over its control socket.</summary>
internal static class StatusCommand
{
    public static int Run(string? configPath, string? socketPath, bool json, TextWriter stdout, TextWriter stderr)
    {
        if (!EngineSocket.TryResolve(configPath, socketPath, stderr, out var socket)) return 2;
        if (!ControlClient.TryRequest(socket, "status", out var response))
        {
            stderr.WriteLine($"cannot reach the engine at {socket}: {response}");
            return 1;
        }
        stdout.WriteLine(json ? response : StatusReport.Text(response));
        return 0;
    }
}

/// <summary>How every command that talks to the engine finds it: --socket, else the config's
/// control_socket, else the default path.</summary>
internal static class EngineSocket
{
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
