using System.CommandLine;
using LoadBalancer.Cli.Commands;
using LoadBalancer.Cli.Control;
using LoadBalancer.Cli.RealServer;

namespace LoadBalancer.Cli;

internal static class Program
{
    public static int Main(string[] args) => BuildCommand().Parse(args).Invoke();

    internal static RootCommand BuildCommand()
    {
        var root = new RootCommand("LoadBalancer: a packet-level Layer-4 load balancer for Linux (DR, NAT, CLUSTERIP)");

        var config = new Option<string>("--config") { Description = "The configuration file (YAML)", Required = true };
        var noChecker = new Option<bool>("--no-health-checker")
        {
            Description = "Do not run the health checker in this process (run 'lb healthcheck' separately)",
        };
        var run = new Command("run", "Run the engine in the foreground; SIGTERM or SIGINT stops it cleanly") { config, noChecker };
        run.SetAction(r => RunCommand.Run(r.GetValue(config)!, !r.GetValue(noChecker), Console.Out, Console.Error));
        root.Subcommands.Add(run);

        root.Subcommands.Add(HealthCheckCommand.Build());

        var checkConfig = new Option<string>("--config") { Description = "The configuration file (YAML)", Required = true };
        var check = new Command("check", "Validate a configuration: prints ok, or FILE:LINE: message per problem (exit 2)") { checkConfig };
        check.SetAction(r => CheckCommand.Run(r.GetValue(checkConfig)!, Console.Out, Console.Error));
        root.Subcommands.Add(check);

        var (statusConfig, statusSocket) = EngineSocket.Options();
        var json = new Option<bool>("--json") { Description = "Print the status document as JSON" };
        var status = new Command("status", "Show the running engine's services, backends and counters") { statusConfig, statusSocket, json };
        status.SetAction(r => StatusCommand.Run(r.GetValue(statusConfig), r.GetValue(statusSocket), r.GetValue(json), Console.Out, Console.Error));
        root.Subcommands.Add(status);
        root.Subcommands.Add(ReloadCommand.Build());

        var realserver = new Command("realserver", "Prepare a DR real server: VIP on lo, ARP suppressed (IPv4 and IPv6 VIPs)");
        var setupVip = new Option<string[]>("--vip") { Description = "A VIP this server answers for, IPv4 or IPv6 (repeatable)", Required = true, AllowMultipleArgumentsPerToken = false };
        var setupDev = new Option<string>("--dev") { Description = "Device that holds the VIPs", DefaultValueFactory = _ => RealServerSetup.DefaultDevice };
        var setup = new Command("setup", "Add each VIP on the device (IPv4 /32, IPv6 /128 nodad) and, with an IPv4 VIP, set arp_ignore=1, arp_announce=2 (idempotent)") { setupVip, setupDev };
        setup.SetAction(r => RealServerSetup.Setup(r.GetValue(setupVip)!, r.GetValue(setupDev)!, Console.Out));
        var teardownVip = new Option<string[]>("--vip") { Description = "A VIP to remove (repeatable)", Required = true, AllowMultipleArgumentsPerToken = false };
        var teardownDev = new Option<string>("--dev") { Description = "Device that holds the VIPs", DefaultValueFactory = _ => RealServerSetup.DefaultDevice };
        var teardown = new Command("teardown", "Undo exactly what setup did for these VIPs") { teardownVip, teardownDev };
        teardown.SetAction(r => RealServerSetup.Teardown(r.GetValue(teardownVip)!, r.GetValue(teardownDev)!, Console.Out));
        realserver.Subcommands.Add(setup);
        realserver.Subcommands.Add(teardown);
        root.Subcommands.Add(realserver);

        root.Subcommands.Add(FlowCommand.BuildFlow());
        root.Subcommands.Add(FlowCommand.BuildFlows());
        root.Subcommands.Add(BackendCommand.Build());
        root.Subcommands.Add(HaCommand.Build());
        root.Subcommands.Add(GenerateCommand.Build());

        var version = new Command("version", "Print the version");
        version.SetAction(_ =>
        {
            Console.Out.WriteLine($"lb {VersionInfo.Text}");
            return 0;
        });
        root.Subcommands.Add(version);
        return root;
    }
}
