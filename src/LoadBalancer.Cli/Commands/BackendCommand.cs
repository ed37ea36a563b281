using System.CommandLine;

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
        var (config, socket) = EngineSocket.Options();
        var command = new Command(name, description) { service, backendName, config, socket };
        if (withWeight) command.Arguments.Add(weight);
        command.SetAction(r =>
        {
            var request = $"backend {name} {r.GetValue(service)} {r.GetValue(backendName)}" + (withWeight ? $" {r.GetValue(weight)}" : "");
            return EngineSocket.Send(r.GetValue(config), r.GetValue(socket), request, Console.Out, Console.Error);
        });
        return command;
    }
}
