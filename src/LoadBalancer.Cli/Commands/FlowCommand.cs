using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LoadBalancer.Cli.Control;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb flow SERVICE CLIENT_IP:PORT</c> (where this client's flow goes) and <c>lb flows SERVICE</c> (the
/// service's live flows, as <c>ipvsadm -Lnc</c>): read-only questions to the running engine, found as <c>lb status</c>
/// finds it. Exit 0 when answered, 1 when the engine is unreachable or refuses the question (unknown service, bad
/// address), 2 when the config cannot be read.</summary>
internal static class FlowCommand
{
    public static Command BuildFlow()
    {
        var service = new Argument<string>("SERVICE") { Description = "Service name" };
        var client = new Argument<string>("CLIENT") { Description = "The client's address and port: IPv4:PORT, or [IPv6]:PORT for an IPv6 service" };
        var json = new Option<bool>("--json") { Description = "Print the answer as one JSON object" };
        var (config, socket) = EngineSocket.Options();
        var command = new Command("flow", "Show the backend a client's flow is on (flow table or NAT session), or would get, and its worker")
            { service, client, json, config, socket };
        command.SetAction(r => Run(r.GetValue(config), r.GetValue(socket), $"flow {r.GetValue(service)} {r.GetValue(client)}",
            r.GetValue(json) ? a => a : FlowReport.FlowText, Console.Out, Console.Error));
        return command;
    }

    public static Command BuildFlows()
    {
        var service = new Argument<string>("SERVICE") { Description = "Service name" };
        var backend = new Option<string>("--backend") { Description = "Only this backend's flows" };
        var limit = new Option<int>("--limit") { Description = "At most this many flows", DefaultValueFactory = _ => FlowReport.DefaultLimit };
        var json = new Option<bool>("--json") { Description = "Print a JSON list of {client, backend, state, idle_ms, worker}" };
        var (config, socket) = EngineSocket.Options();
        var command = new Command("flows", "List a service's live flows or NAT sessions: client, backend, state, idle time, worker")
            { service, backend, limit, json, config, socket };
        command.SetAction(r =>
        {
            var request = FlowsRequest(r.GetValue(service)!, r.GetValue(backend), r.GetValue(limit));
            return Run(r.GetValue(config), r.GetValue(socket), request, r.GetValue(json) ? FlowReport.FlowsJson : FlowReport.FlowsText,
                Console.Out, Console.Error);
        });
        return command;
    }

    /// <summary>The control request <c>lb flows</c> sends.</summary>
    public static string FlowsRequest(string service, string? backend, int limit) =>
        $"flows {service} limit {limit.ToString(CultureInfo.InvariantCulture)}" + (backend is null ? "" : $" backend {backend}");

    /// <summary>Asks, then prints the answer through <paramref name="render"/>, or the engine's error (exit 1).</summary>
    public static int Run(string? configPath, string? socketPath, string request, Func<string, string> render, TextWriter stdout, TextWriter stderr)
    {
        var code = EngineSocket.Ask(configPath, socketPath, request, stderr, out var response);
        if (code != 0) return code;
        using (var doc = JsonDocument.Parse(response))
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error))
            {
                stderr.WriteLine(error.GetString());
                return 1;
            }
        stdout.WriteLine(render(response));
        return 0;
    }
}
