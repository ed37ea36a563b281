using System.CommandLine;
using System.Globalization;
using System.Net;
using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Kernel;
using LoadBalancer.Linux.Packet;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb generate</c>: the lab's paced UDP generator (see lab/compare.py). Prints one JSON line.</summary>
internal static class GenerateCommand
{
    public static Command Build()
    {
        var iface = new Option<string>("--interface") { Description = "Interface to send on", Required = true };
        var dstMac = new Option<string>("--dst-mac") { Description = "Destination MAC (the next hop)", Required = true };
        var src = new Option<string>("--src") { Description = "Source IPv4 or IPv6 address", Required = true };
        var dst = new Option<string[]>("--dst") { Description = "Destination address of the source's family (repeatable; flows are spread over them)", Required = true };
        var port = new Option<int>("--port") { Description = "UDP destination port", DefaultValueFactory = _ => 9 };
        var flows = new Option<int>("--flows") { Description = "Flows (distinct source ports) per destination", DefaultValueFactory = _ => 1020 };
        var size = new Option<int>("--size") { Description = $"Frame size with FCS, {PacedSender.SmallestIpv4Frame}..{PacedSender.LargestFrame} ({PacedSender.SmallestIpv6Frame}.. for IPv6)", DefaultValueFactory = _ => 64 };
        var rate = new Option<long>("--rate") { Description = "Frames per second", Required = true };
        var duration = new Option<double>("--duration") { Description = "Seconds", DefaultValueFactory = _ => 2 };
        var batch = new Option<int>("--batch") { Description = "Frames per sendmmsg (1..64)", DefaultValueFactory = _ => 16 };
        var cpu = new Option<int?>("--cpu") { Description = "Pin the sending thread to this CPU (the lab keeps the generator off the device under test's core)" };
        var command = new Command("generate", "Lab tool: send paced UDP frames over many flows and report what was sent")
        {
            iface, dstMac, src, dst, port, flows, size, rate, duration, batch, cpu,
        };
        command.SetAction(r =>
        {
            if (!MacAddress.TryParse(r.GetValue(dstMac), out var mac))
            {
                Console.Error.WriteLine("--dst-mac is not a MAC address");
                return 2;
            }
            if (!IPAddress.TryParse(r.GetValue(src), out var source))
            {
                Console.Error.WriteLine($"--src {r.GetValue(src)} is not an IP address");
                return 2;
            }
            var destinations = new List<IPAddress>();
            foreach (var text in r.GetValue(dst)!)
            {
                if (!IPAddress.TryParse(text, out var destination))
                {
                    Console.Error.WriteLine($"--dst {text} is not an IP address");
                    return 2;
                }
                destinations.Add(destination);
            }
            if (r.GetValue(cpu) is { } pinned)
            {
                try
                {
                    CpuAffinity.PinCurrentThread(pinned);
                }
                catch (Exception e) when (e is Linux.Interop.NativeException or ArgumentOutOfRangeException)
                {
                    Console.Error.WriteLine($"--cpu {pinned}: {e.Message}");
                    return 2;
                }
            }
            PacedSenderResult result;
            try
            {
                result = PacedSender.Run(new PacedSenderOptions
                {
                    Interface = r.GetValue(iface)!,
                    DestinationMac = mac,
                    Source = source,
                    Destinations = destinations,
                    DestinationPort = (ushort)r.GetValue(port),
                    Flows = r.GetValue(flows),
                    FrameSize = r.GetValue(size),
                    RatePps = r.GetValue(rate),
                    DurationSeconds = r.GetValue(duration),
                    Batch = r.GetValue(batch),
                });
            }
            catch (ArgumentOutOfRangeException e)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"offered\":{result.Offered},\"sent\":{result.Sent},\"refused\":{result.Refused},\"elapsed\":{result.ElapsedSeconds:F4},\"rate\":{result.Sent / result.ElapsedSeconds:F0}}}"));
            return 0;
        });
        return command;
    }
}
