using System.Globalization;
using System.Net;
using System.Text;
using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Scheduling;
using LoadBalancer.Linux.Kernel;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration.Sections;

/// <summary>The top level of the file: engine-wide settings and the <c>services</c> list (names and endpoints
/// unique across services).</summary>
internal sealed class RootSection(ConfigReader r)
{
    private static readonly string[] Keys = ["hash_seed", "workers", "cpus", "control_socket", "control_group", "control_admin_group", "flow_table_size", "flow_timeouts",
                                             "session_table_size", "new_flow_rate", "maglev_table_size", "ha", "announce", "http", "io", "xdp", "services"];

    public BalancerConfig? Read(YamlMappingNode map)
    {
        var entries = r.Entries(map, Keys);
        var ok = true;

        var config = new BalancerConfig();
        if (entries.TryGetValue("hash_seed", out var seed))
        {
            if (!r.TryScalar(seed, out var text)) ok = false;
            else if (TryParseSeed(text, out var value)) config = config with { HashSeed = value };
            else ok = r.ReportIf(seed, $"hash_seed must be an unsigned 32-bit integer, decimal or 0x hex (got '{text}')");
        }
        ok &= r.OptionalInt(entries, "workers", ConfigLimits.MinWorkers, ConfigLimits.MaxWorkers, value => config = config with { Workers = value });
        ok &= ConfigReader.Optional(entries, "cpus", ReadCpus, value => config = config with { Cpus = value });
        if (entries.TryGetValue("control_socket", out var socket))
        {
            if (r.TryScalar(socket, out var path) && CheckSocketPath(socket, path)) config = config with { ControlSocket = path };
            else ok = false;
        }
        ok &= ConfigReader.Optional(entries, "control_group", ReadGroup, value => config = config with { ControlGroup = value });
        ok &= ConfigReader.Optional(entries, "control_admin_group", ReadGroup, value => config = config with { ControlAdminGroup = value });
        ok &= r.OptionalInt(entries, "flow_table_size", ConfigLimits.MinFlowTableSize, ConfigLimits.MaxFlowTableSize, value => config = config with { FlowTableSize = value });
        ok &= ConfigReader.Optional(entries, "flow_timeouts", new TimeoutsSection(r).Read, value => config = config with { FlowTimeouts = value });
        ok &= r.OptionalInt(entries, "session_table_size", ConfigLimits.MinSessionTableSize, ConfigLimits.MaxSessionTableSize, value => config = config with { SessionTableSize = value });
        ok &= r.OptionalInt(entries, "new_flow_rate", ConfigLimits.MinNewFlowRate, ConfigLimits.MaxNewFlowRate, value => config = config with { NewFlowRate = value });
        if (entries.TryGetValue("maglev_table_size", out var maglev))
        {
            if (r.TryInt(maglev, ConfigLimits.MinMaglevTableSize, ConfigLimits.MaxMaglevTableSize, out var value))
            {
                if (MaglevTable.IsPrime(value)) config = config with { MaglevTableSize = value };
                else ok = r.ReportIf(maglev, $"maglev_table_size must be a prime number (got {value}); for example 65537");
            }
            else ok = false;
        }

        ok &= ConfigReader.Optional(entries, "ha", new HaSection(r).Read, value => config = config with { Ha = value });
        ok &= ConfigReader.Optional(entries, "announce", ReadAnnounce, value => config = config with { Announce = value });
        ok &= ConfigReader.Optional(entries, "http", ReadHttp, value => config = config with { Http = value });
        ok &= r.OptionalChoice(entries, "io", ModeNames.FrameIos, value => config = config with { Io = value });
        ok &= ConfigReader.Optional(entries, "xdp", ReadXdp, value => config = config with { Xdp = value });

        if (!entries.TryGetValue("services", out var servicesEntry))
        {
            r.Error(map, "missing required key 'services'");
            return null;
        }
        var services = ReadServices(servicesEntry, config.MaglevTableSize, entries.ContainsKey("announce"));
        // State sync's records carry IPv4 sessions only: after a failover an IPv6 NAT session would be gone and its
        // TCP connections dropped as nat_no_session, which is worse than refusing the pair up front.
        if (config.Ha?.Sync is not null && services is not null)
            foreach (var s in services.Where(s => s.IsIpv6 && s.Mode == ForwardingMode.Nat))
            {
                r.Error(s.Line, $"service '{s.Name}' is an IPv6 NAT service, and ha.sync carries IPv4 sessions only so far: " +
                                "drop ha.sync or serve this VIP from a balancer without state sync");
                ok = false;
            }
        if (services is not null && config.Io != FrameIo.AfPacket) ok &= RefuseOffXdp(services, config, entries["io"]);
        return ok && services is not null ? config with { Services = services, KeyLines = ConfigReader.KeyLines(entries) } : null;
    }

    private static readonly string[] HttpKeys = ["listen"];

    private HttpConfig? ReadHttp(YamlEntry entry)
    {
        if (!r.TryMapping(entry, out var map)) return null;
        var entries = r.Entries(map, HttpKeys);
        if (r.Required(entry.KeyNode, entries, "listen") is not { } listen) return null;
        if (!r.TryScalar(listen, out var text)) return null;
        // IPv4:port or [IPv6]:port, a port above 0: an operator names where the page may be seen, never "any port".
        if (!IPEndPoint.TryParse(text, out var endpoint) || endpoint.Port == 0 ||
            (endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !text.StartsWith('[')))
        {
            r.ReportIf(listen, $"listen must be IPv4:port or [IPv6]:port with a port from 1 to 65535, like 127.0.0.1:9150 (got '{text}')");
            return null;
        }
        return new HttpConfig { Listen = endpoint, Line = ConfigReader.LineOf(entry.KeyNode) };
    }

    // busy_poll is the key too, but until it is built (with the per-CPU proof it needs) it is refused, not ignored.
    private static readonly string[] XdpKeys = ["mode", "zero_copy", "frames"];

    private XdpConfig? ReadXdp(YamlEntry entry)
    {
        if (!r.TryMapping(entry, out var map)) return null;
        if (map.Children.Keys.OfType<YamlScalarNode>().FirstOrDefault(k => k.Value == "busy_poll") is { } busy)
        {
            r.Error(busy, "xdp.busy_poll is not implemented yet: the AF_XDP sockets wait in poll() (event-driven); remove the key");
            return null;
        }
        var entries = r.Entries(map, XdpKeys);
        var xdp = new XdpConfig { Line = ConfigReader.LineOf(entry.KeyNode) };
        var ok = r.OptionalChoice(entries, "mode", ModeNames.XdpAttachModes, value => xdp = xdp with { Mode = value });
        ok &= r.OptionalChoice(entries, "zero_copy", ModeNames.XdpZeroCopies, value => xdp = xdp with { ZeroCopy = value });
        ok &= r.OptionalInt(entries, "frames", ConfigLimits.MinXdpFrames, ConfigLimits.MaxXdpFrames, value => xdp = xdp with { Frames = value });
        return ok ? xdp : null;
    }

    /// <summary>What the AF_XDP port does not carry (<see cref="XdpConfig.WhyNotCarried"/>): <c>io: af_xdp</c>
    /// refuses such a service at its line; <c>io: auto</c> says at start that it keeps AF_PACKET.</summary>
    private bool RefuseOffXdp(List<ServiceConfig> services, BalancerConfig config, YamlEntry ioEntry)
    {
        if (config.Io != FrameIo.AfXdp) return true;
        var ok = true;
        foreach (var s in services)
            if (XdpConfig.WhyNotCarried(s, config.Workers) is { } why)
            {
                r.Error(s.Line, $"service '{s.Name}': io af_xdp (line {ConfigReader.LineOf(ioEntry.KeyNode)}) {why}; use workers: 1, io: af_packet or io: auto");
                ok = false;
            }
        return ok;
    }

    private static readonly string[] AnnounceKeys = ["table"];

    private AnnounceConfig? ReadAnnounce(YamlEntry entry)
    {
        if (!r.TryMapping(entry, out var map)) return null;
        var entries = r.Entries(map, AnnounceKeys);
        if (r.Required(entry.KeyNode, entries, "table") is not { } tableEntry) return null;
        if (!r.TryScalar(tableEntry, out var text)) return null;
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var table) ||
            table is < ConfigLimits.MinAnnounceTable or > ConfigLimits.MaxAnnounceTable)
        {
            r.ReportIf(tableEntry, $"table must be a routing table number from {ConfigLimits.MinAnnounceTable} to {ConfigLimits.MaxAnnounceTable} " +
                                   $"(253 default, 254 main and 255 local are the kernel's own; got '{text}')");
            return null;
        }
        return new AnnounceConfig { Table = table, Line = ConfigReader.LineOf(entry.KeyNode) };
    }

    private List<ServiceConfig>? ReadServices(YamlEntry entry, int maglevSize, bool announcing)
    {
        if (!r.TrySequence(entry, out var sequence)) return null;
        if (sequence.Children.Count == 0)
        {
            r.Error(entry.Value, "services must list at least one service");
            return null;
        }

        var ok = true;
        var services = new List<ServiceConfig>();
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var endpoints = new Dictionary<(IPAddress, ushort, TransportProtocol), (string Name, int Line)>();
        foreach (var item in sequence.Children)
        {
            if (item is not YamlMappingNode serviceMap)
            {
                r.Error(item, "each service must be a mapping (name: ..., vip: ..., ...)");
                ok = false;
                continue;
            }
            var service = new ServiceSection(r).Read(serviceMap, maglevSize, announcing);
            if (service is null)
            {
                ok = false;
                continue;
            }
            if (names.TryGetValue(service.Name, out var firstLine))
            {
                r.Error(service.Line, $"duplicate service name '{service.Name}' (first defined at line {firstLine})");
                ok = false;
            }
            else names[service.Name] = service.Line;

            var endpoint = (service.Vip, service.Port, service.Protocol);
            if (endpoints.TryGetValue(endpoint, out var first))
            {
                r.Error(service.Line, $"service '{service.Name}' uses {new IPEndPoint(service.Vip, service.Port)}/{ModeNames.Name(service.Protocol)}, " +
                                    $"already used by service '{first.Name}' (line {first.Line})");
                ok = false;
            }
            else endpoints[endpoint] = (service.Name, service.Line);
            services.Add(service);
        }
        return ok ? services : null;
    }

    /// <summary><c>cpus:</c> a CPU number, a list of them, or a range "1-3" (as taskset takes them).</summary>
    private List<int>? ReadCpus(YamlEntry entry)
    {
        var cpus = new List<int>();
        var items = entry.Value is YamlSequenceNode list ? list.Children.Select(c => new YamlEntry(entry.Key, entry.KeyNode, c)).ToList() : [entry];
        if (items.Count == 0) return r.ReportIf(entry, "cpus must list at least one CPU") ? cpus : null;
        foreach (var item in items)
        {
            if (!r.TryScalar(item, out var text)) return null;
            var range = text.Split('-');
            if (range.Length > 2 || !range.All(r => int.TryParse(r, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)))
                return r.ReportIf(item, $"cpus must be CPU numbers or ranges like 1-3 (got {ConfigReader.Quoted(text)})") ? cpus : null;
            var first = int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
            var last = int.Parse(range[^1], System.Globalization.CultureInfo.InvariantCulture);
            if (first > last || last >= CpuAffinity.MaxCpus)
                return r.ReportIf(item, $"cpus: {ConfigReader.Quoted(text)} is not a range of CPUs 0..{CpuAffinity.MaxCpus - 1}") ? cpus : null;
            for (var c = first; c <= last; c++)
            {
                if (cpus.Contains(c)) return r.ReportIf(item, $"cpus: CPU {c} is listed twice") ? cpus : null;
                cpus.Add(c);
            }
        }
        return cpus;
    }

    /// <summary><c>control_group</c>, <c>control_admin_group</c>: a group name, resolved now, so that <c>lb check</c>
    /// reports a group that does not exist and the engine needs no lookup.</summary>
    private UnixGroup? ReadGroup(YamlEntry entry)
    {
        if (!r.TryScalar(entry, out var name)) return null;
        if (UserDatabase.FindGroup(name, out var group) is not { } problem) return group;
        r.ReportIf(entry, $"{entry.Key}: {problem}");
        return null;
    }

    private static bool TryParseSeed(string text, out uint value)
    {
        value = 0;
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            var hex = text.AsSpan(2);
            return hex.Length is > 0 and <= 8 && uint.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        }
        return text.Length > 0 && !text.AsSpan().ContainsAnyExceptInRange('0', '9')
            && uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private bool CheckSocketPath(YamlEntry entry, string path)
    {
        if (!path.StartsWith('/')) return r.ReportIf(entry, $"control_socket must be an absolute path (got '{path}')");
        if (path.EndsWith('/')) return r.ReportIf(entry, $"control_socket must name a socket file, not a directory (got '{path}')");
        if (path.Contains('\0')) return r.ReportIf(entry, "control_socket must not contain NUL characters");
        var bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > ConfigLimits.MaxUnixSocketPathBytes)
            return r.ReportIf(entry, $"control_socket path is {bytes} bytes; a unix socket path can be at most {ConfigLimits.MaxUnixSocketPathBytes}");
        return true;
    }
}
