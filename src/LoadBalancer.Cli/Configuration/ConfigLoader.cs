using System.Globalization;
using System.Net;
using System.Text;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;
using LoadBalancer.Linux.Kernel;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration;

/// <summary>Reads the YAML config into a <see cref="BalancerConfig"/>. Works on YamlDotNet's
/// representation model (not the deserializer) so that every error can name the line of the offending
/// key or value. Never throws on bad input: every problem found becomes a <see cref="ConfigError"/>,
/// and all of them are reported, not only the first.</summary>
public static class ConfigLoader
{
    /// <summary>Config files larger than this are refused before parsing (a config is a few KiB).</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;

    public const int MinWorkers = 1, MaxWorkers = 64;
    public const int MinFlowTableSize = 1024, MaxFlowTableSize = 64 * 1024 * 1024;
    public const int MinSessionTableSize = 16, MaxSessionTableSize = 64 * 1024 * 1024;
    public const int MinMaglevTableSize = 251, MaxMaglevTableSize = 1_000_003;
    public const int MinWeight = 0, MaxWeight = 1_000_000;
    public const int MinNodeId = 1, MaxNodeId = 255;
    public const int MinRiseFall = 1, MaxRiseFall = 100;
    public static readonly TimeSpan MaxHealthInterval = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxSessionTimeout = TimeSpan.FromDays(7);

    /// <summary>The largest UDP payload in an IPv4 datagram (65535 - 20 - 8).</summary>
    public const int MaxUdpPayloadBytes = 65507;

    /// <summary>sun_path is 108 bytes including the terminating NUL.</summary>
    public const int MaxUnixSocketPathBytes = 107;

    /// <summary>Reads and parses <paramref name="path"/>. Errors name the file as given; on success
    /// <see cref="BalancerConfig.SourcePath"/> is the full path, so a later reload does not depend on
    /// the working directory.</summary>
    public static ConfigLoadResult Load(string path)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (Directory.Exists(path))
                return Failed(path, 0, "is a directory, not a config file");
            if (!info.Exists)
                return Failed(path, 0, "config file not found");
            if (info.Length > MaxFileBytes)
                return Failed(path, 0, $"config file is too large ({info.Length} bytes, the limit is {MaxFileBytes})");
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return Failed(path, 0, $"cannot read config file: {e.Message}");
        }

        var result = Parse(text, path);
        if (result.Config is null) return result;
        string fullPath;
        try { fullPath = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { fullPath = path; }
        return new ConfigLoadResult(result.Config with { SourcePath = fullPath }, []);
    }

    /// <summary>Parses config text; <paramref name="sourceName"/> is used in errors and as
    /// <see cref="BalancerConfig.SourcePath"/>.</summary>
    public static ConfigLoadResult Parse(string yamlText, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(yamlText);
        ArgumentNullException.ThrowIfNull(sourceName);
        var reader = new Reader(sourceName);
        var config = reader.Read(yamlText);
        var errors = reader.Errors
            .Select((e, i) => (e, i))
            .OrderBy(x => x.e.Line).ThenBy(x => x.i)
            .Select(x => x.e)
            .ToArray();
        return errors.Length > 0 || config is null
            ? new ConfigLoadResult(null, errors.Length > 0 ? errors : [new ConfigError(sourceName, 0, "config could not be read")])
            : new ConfigLoadResult(config with { SourcePath = sourceName }, []);
    }

    private static ConfigLoadResult Failed(string file, int line, string message) =>
        new(null, [new ConfigError(file, line, message)]);

    private static class Keys
    {
        public static readonly string[] Root = ["hash_seed", "workers", "cpus", "control_socket", "flow_table_size", "flow_timeouts",
                                                "session_table_size", "maglev_table_size", "services"];
        public static readonly string[] Service = ["name", "vip", "port", "protocol", "mode", "interface", "backend_interface", "backends",
                                                   "on_backend_down", "when_all_down", "health", "gateway", "timeouts", "tcp_pickup", "cluster"];
        public static readonly string[] Backend = ["name", "address", "weight", "mac", "backup", "port"];
        public static readonly string[] Timeouts = ["tcp_syn", "tcp_established", "tcp_closing", "udp"];
        public static readonly string[] Cluster = ["mac", "hash", "local_node", "nodes", "heartbeat_port"];
        public static readonly string[] Node = ["id", "address", "weight"];

        /// <summary>Service keys that only mode nat uses; with another mode they are errors (their values
        /// are not read), as a backend's 'port' is.</summary>
        public static readonly string[] NatOnlyService = ["gateway", "timeouts", "tcp_pickup"];

        /// <summary>Service keys that mode clusterip does not use (besides the NAT-only ones): a CLUSTERIP
        /// node answers on its own interface and serves the flows it owns itself.</summary>
        public static readonly string[] NotClusterIpService = ["backend_interface"];
        public static readonly string[] Health = ["type", "port", "request", "host", "expect", "soft_stop", "payload", "reply", "command", "verify_tls",
                                                  "interval", "timeout", "rise", "fall", "initial"];

        /// <summary>Health keys that fit only some check types. Every other key but 'type' fits every type
        /// except none; a key that does not fit the type is an error, so a misplaced key never passes silently.</summary>
        public static readonly Dictionary<string, HealthCheckType[]> HealthTypeSpecific = new(StringComparer.Ordinal)
        {
            ["request"] = [HealthCheckType.Http, HealthCheckType.Https],
            ["host"] = [HealthCheckType.Http, HealthCheckType.Https],
            ["expect"] = [HealthCheckType.Http, HealthCheckType.Https],
            ["soft_stop"] = [HealthCheckType.Http, HealthCheckType.Https],
            ["verify_tls"] = [HealthCheckType.Https],
            ["payload"] = [HealthCheckType.Udp],
            ["reply"] = [HealthCheckType.Udp],
            ["command"] = [HealthCheckType.Exec],
        };
    }

    /// <summary>The words each enumerated key accepts, in the order error messages list them (ModeNames' tables,
    /// and for <c>initial</c> the two healths a backend may start in).</summary>
    private static class Choices
    {
        public static readonly (string Name, BackendHealth Value)[] Initial =
            [("unknown", BackendHealth.Unknown), ("healthy", BackendHealth.Healthy)];
    }

    /// <summary>One pass over one document, collecting errors.</summary>
    private sealed class Reader(string source)
    {
        public List<ConfigError> Errors { get; } = new();

        private void Error(int line, string message) => Errors.Add(new ConfigError(source, line, message));

        private void Error(YamlNode node, string message) => Error(LineOf(node), message);

        private static int LineOf(YamlNode node) => LineOf(node.Start);

        private static int LineOf(Mark mark) => (int)Math.Clamp(mark.Line, 0, int.MaxValue);

        public BalancerConfig? Read(string text)
        {
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(text));
            }
            catch (YamlException e)
            {
                Error(LineOf(e.Start), $"invalid YAML: {YamlMessage(e)}");
                return null;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
            {
                // The representation model sometimes fails without a position (e.g. on an unclosed
                // flow sequence at the end of the file); the event parser says where it stopped.
                var (line, message) = LocateSyntaxError(text);
                Error(line, $"invalid YAML: {message ?? e.Message}");
                return null;
            }

            if (stream.Documents.Count == 0)
            {
                Error(1, "config is empty");
                return null;
            }
            if (stream.Documents.Count > 1)
            {
                Error(stream.Documents[1].RootNode, "config must be a single YAML document (found another document here)");
                return null;
            }

            var root = stream.Documents[0].RootNode;
            if (root is not YamlMappingNode rootMap)
            {
                Error(root, IsNull(root) ? "config is empty" : "config must be a mapping of settings (key: value)");
                return null;
            }
            return ReadRoot(rootMap);
        }

        private static (int Line, string? Message) LocateSyntaxError(string text)
        {
            var parser = new Parser(new StringReader(text));
            var line = 1;
            try
            {
                while (parser.MoveNext())
                    if (parser.Current is { } current) line = LineOf(current.End);
            }
            catch (YamlException e)
            {
                return (LineOf(e.Start), YamlMessage(e));
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
            {
                return (line, "cannot parse the YAML after this point (is a '[', '{' or quote left open?)");
            }
            return (line, null);
        }

        /// <summary>YamlException.Message starts with "(Line: .., Col: .., Idx: ..) - (Line: ..): "; the
        /// line is reported separately, so keep only the text.</summary>
        private static string YamlMessage(YamlException e)
        {
            var m = e.Message;
            var marker = m.IndexOf("): ", StringComparison.Ordinal);
            if (m.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0) m = m[(marker + 3)..];
            m = m.Trim();
            const string duplicate = "Duplicate key ";
            return m.StartsWith(duplicate, StringComparison.Ordinal) ? $"duplicate key '{m[duplicate.Length..]}'" : m;
        }

        private BalancerConfig? ReadRoot(YamlMappingNode map)
        {
            var entries = Entries(map, Keys.Root);
            var ok = true;

            var config = new BalancerConfig();
            if (entries.TryGetValue("hash_seed", out var seed))
            {
                if (!TryScalar(seed, out var text)) ok = false;
                else if (TryParseSeed(text, out var value)) config = config with { HashSeed = value };
                else ok = ReportIf(seed, $"hash_seed must be an unsigned 32-bit integer, decimal or 0x hex (got '{text}')");
            }
            ok &= OptionalInt(entries, "workers", MinWorkers, MaxWorkers, value => config = config with { Workers = value });
            ok &= Optional(entries, "cpus", ReadCpus, value => config = config with { Cpus = value });
            if (entries.TryGetValue("control_socket", out var socket))
            {
                if (TryScalar(socket, out var path) && CheckSocketPath(socket, path)) config = config with { ControlSocket = path };
                else ok = false;
            }
            ok &= OptionalInt(entries, "flow_table_size", MinFlowTableSize, MaxFlowTableSize, value => config = config with { FlowTableSize = value });
            ok &= Optional(entries, "flow_timeouts", ReadTimeouts, value => config = config with { FlowTimeouts = value });
            ok &= OptionalInt(entries, "session_table_size", MinSessionTableSize, MaxSessionTableSize, value => config = config with { SessionTableSize = value });
            if (entries.TryGetValue("maglev_table_size", out var maglev))
            {
                if (TryInt(maglev, MinMaglevTableSize, MaxMaglevTableSize, out var value))
                {
                    if (MaglevTable.IsPrime(value)) config = config with { MaglevTableSize = value };
                    else ok = ReportIf(maglev, $"maglev_table_size must be a prime number (got {value}); for example 65537");
                }
                else ok = false;
            }

            if (!entries.TryGetValue("services", out var servicesEntry))
            {
                Error(map, "missing required key 'services'");
                return null;
            }
            var services = ReadServices(servicesEntry, config.MaglevTableSize);
            return ok && services is not null ? config with { Services = services } : null;
        }

        private List<ServiceConfig>? ReadServices(Entry entry, int maglevSize)
        {
            if (!TrySequence(entry, out var sequence)) return null;
            if (sequence.Children.Count == 0)
            {
                Error(entry.Value, "services must list at least one service");
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
                    Error(item, "each service must be a mapping (name: ..., vip: ..., ...)");
                    ok = false;
                    continue;
                }
                var service = ReadService(serviceMap, maglevSize);
                if (service is null)
                {
                    ok = false;
                    continue;
                }
                if (names.TryGetValue(service.Name, out var firstLine))
                {
                    Error(service.Line, $"duplicate service name '{service.Name}' (first defined at line {firstLine})");
                    ok = false;
                }
                else names[service.Name] = service.Line;

                var endpoint = (service.Vip, service.Port, service.Protocol);
                if (endpoints.TryGetValue(endpoint, out var first))
                {
                    Error(service.Line, $"service '{service.Name}' uses {service.Vip}:{service.Port}/{ModeNames.Name(service.Protocol)}, " +
                                        $"already used by service '{first.Name}' (line {first.Line})");
                    ok = false;
                }
                else endpoints[endpoint] = (service.Name, service.Line);
                services.Add(service);
            }
            return ok ? services : null;
        }

        private ServiceConfig? ReadService(YamlMappingNode map, int maglevSize)
        {
            var entries = Entries(map, Keys.Service);
            var ok = true;

            var name = RequiredName(map, entries, "name", "service");
            ok &= name is not null;

            IPAddress? vip = null;
            if (Required(map, entries, "vip") is { } vipEntry)
            {
                vip = ReadAddress(vipEntry, "VIPs", "vip");
                ok &= vip is not null;
            }
            else ok = false;

            ushort port = 0;
            if (Required(map, entries, "port") is { } portEntry && TryInt(portEntry, 1, 65535, out var portValue)) port = (ushort)portValue;
            else ok = false;

            var protocol = TransportProtocol.Tcp;
            ok &= OptionalChoice(entries, "protocol", ModeNames.Protocols, value => protocol = value);

            // Null while the mode is unusable: the mode-specific keys are then all checked, none refused.
            ForwardingMode? mode = ForwardingMode.DirectRouting;
            if (entries.TryGetValue("mode", out var modeEntry))
            {
                mode = null;
                if (TryChoice(modeEntry, ModeNames.Modes, out var value)) mode = value;
                else ok = false;
            }
            if (mode is { } known && known != ForwardingMode.Nat)
            {
                foreach (var misplaced in Keys.NatOnlyService.Where(entries.ContainsKey).Select(k => entries[k]).ToArray())
                {
                    Error(misplaced.KeyNode, $"'{misplaced.Key}' applies only to mode nat");
                    entries.Remove(misplaced.Key);
                    ok = false;
                }
            }
            if (mode == ForwardingMode.ClusterIp)
            {
                foreach (var misplaced in Keys.NotClusterIpService.Where(entries.ContainsKey).Select(k => entries[k]).ToArray())
                {
                    Error(misplaced.KeyNode, $"'{misplaced.Key}' does not apply to mode clusterip");
                    entries.Remove(misplaced.Key);
                    ok = false;
                }
                if (entries.Remove("backends", out var misplacedBackends))
                {
                    Error(misplacedBackends.KeyNode, "'backends' does not apply to mode clusterip (nodes are listed under cluster)");
                    ok = false;
                }
                if (!entries.ContainsKey("cluster"))
                {
                    Error(map, "mode clusterip needs a cluster: section");
                    ok = false;
                }
            }
            else if (mode is not null && entries.Remove("cluster", out var misplacedCluster))
            {
                Error(misplacedCluster.KeyNode, "'cluster' applies only to mode clusterip");
                ok = false;
            }

            var iface = RequiredInterface(map, entries, "interface");
            ok &= iface is not null;

            string? backendIface = null;
            if (entries.TryGetValue("backend_interface", out var backendIfaceEntry))
            {
                backendIface = ReadInterface(backendIfaceEntry, "backend_interface");
                ok &= backendIface is not null;
            }

            // Mode clusterip lists nodes instead of backends; with an unusable mode whichever is there is checked.
            List<BackendConfig>? backends = mode == ForwardingMode.ClusterIp || (mode is null && !entries.ContainsKey("backends")) ? [] : null;
            if ((backends is null ? Required(map, entries, "backends") : null) is { } backendsEntry)
            {
                backends = ReadBackends(backendsEntry, vip, port == 0 ? null : port, mode);
                if (backends is not null && backends.Count > maglevSize)
                {
                    Error(backendsEntry.Value, $"{backends.Count} backends do not fit a Maglev table of {maglevSize} entries; raise maglev_table_size");
                    ok = false;
                }
                if (backends is not null && name is not null && backends.All(b => b.Backup))
                {
                    Error(backendsEntry.KeyNode, $"every backend of service '{name}' is a backup; at least one must not be");
                    ok = false;
                }
            }
            ok &= backends is not null;

            var onBackendDown = BackendDownAction.Reassign;
            ok &= OptionalChoice(entries, "on_backend_down", ModeNames.BackendDownActions, value => onBackendDown = value);

            var whenAllDown = AllDownAction.Drop;
            ok &= OptionalChoice(entries, "when_all_down", ModeNames.AllDownActions, value => whenAllDown = value);

            HealthCheckConfig? health = HealthCheckConfig.None;
            if (entries.TryGetValue("health", out var healthEntry))
            {
                health = ReadHealth(healthEntry);
                ok &= health is not null;
            }

            IPAddress? gateway = null;
            if (entries.TryGetValue("gateway", out var gatewayEntry))
            {
                gateway = ReadAddress(gatewayEntry, "gateways", "gateway");
                if (gateway is not null && vip is not null && gateway.Equals(vip))
                {
                    ok = ReportIf(gatewayEntry, $"gateway {gateway} is the service's VIP");
                    gateway = null;
                }
                ok &= gateway is not null;
            }

            SessionTimeouts? timeouts = SessionTimeouts.Default;
            if (entries.TryGetValue("timeouts", out var timeoutsEntry))
            {
                timeouts = ReadTimeouts(timeoutsEntry);
                ok &= timeouts is not null;
            }

            var tcpPickup = false;
            ok &= OptionalBool(entries, "tcp_pickup", value => tcpPickup = value);

            ClusterConfig? cluster = null;
            if (entries.TryGetValue("cluster", out var clusterEntry))
            {
                cluster = ReadCluster(clusterEntry, vip);
                ok &= cluster is not null;
            }

            if (!ok) return null;
            return new ServiceConfig
            {
                Name = name!,
                Vip = vip!,
                Port = port,
                Protocol = protocol,
                Mode = mode!.Value,
                Interface = iface!,
                BackendInterface = backendIface,
                Backends = backends!,
                OnBackendDown = onBackendDown,
                WhenAllDown = whenAllDown,
                Health = health!,
                Gateway = gateway,
                Timeouts = timeouts!,
                TcpPickup = tcpPickup,
                Cluster = cluster,
                Line = LineOf(map),
            };
        }

        /// <summary>A service's <c>cluster:</c> mapping (mode clusterip): the shared multicast MAC, the hash
        /// mode, the nodes and which of them this one is.</summary>
        private ClusterConfig? ReadCluster(Entry clusterEntry, IPAddress? vip)
        {
            if (!TryMapping(clusterEntry, out var map)) return null;
            var entries = Entries(map, Keys.Cluster);
            var ok = true;

            MacAddress? mac = null;
            if (Required(clusterEntry.KeyNode, entries, "mac") is { } macEntry)
            {
                if (!TryScalar(macEntry, out var text)) ok = false;
                else if (!MacAddress.TryParse(text, out var parsed)) ok = ReportIf(macEntry, $"mac must look like 01:00:5e:7f:00:64 (got {Quoted(text)})");
                else if (parsed == MacAddress.Broadcast) ok = ReportIf(macEntry, $"cluster mac {parsed} is the broadcast MAC");
                else if (!parsed.IsMulticast)
                    ok = ReportIf(macEntry, $"cluster mac {parsed} is not a multicast MAC (its first byte must be odd, e.g. 01:00:5e:...)");
                else mac = parsed;
            }
            else ok = false;

            var hash = ClusterHash.SourceIpSourcePort;
            ok &= OptionalChoice(entries, "hash", ModeNames.ClusterHashes, value => hash = value);

            var heartbeat = ClusterConfig.DefaultHeartbeatPort;
            ok &= OptionalInt(entries, "heartbeat_port", 0, 65535, value => heartbeat = value);

            int? localNode = null;
            Entry localEntry = default;
            if (Required(clusterEntry.KeyNode, entries, "local_node") is { } found)
            {
                localEntry = found;
                if (TryInt(found, MinNodeId, MaxNodeId, out var value)) localNode = value;
                else ok = false;
            }
            else ok = false;

            List<ClusterNodeConfig>? nodes = null;
            if (Required(clusterEntry.KeyNode, entries, "nodes") is { } nodesEntry) nodes = ReadNodes(nodesEntry, vip);
            ok &= nodes is not null;

            if (localNode is { } local && nodes is not null && !nodes.Any(n => n.Id == local))
                ok = ReportIf(localEntry, $"local_node {local} is not one of the nodes ({string.Join(", ", nodes.Select(n => n.Id))})");

            if (!ok) return null;
            return new ClusterConfig
            {
                Mac = mac!.Value,
                Hash = hash,
                LocalNode = localNode!.Value,
                Nodes = nodes!,
                HeartbeatPort = heartbeat,
                Line = LineOf(clusterEntry.KeyNode),
            };
        }

        private List<ClusterNodeConfig>? ReadNodes(Entry entry, IPAddress? vip)
        {
            if (!TrySequence(entry, out var sequence)) return null;
            if (sequence.Children.Count == 0)
            {
                Error(entry.Value, "nodes must list at least one node");
                return null;
            }

            var ok = true;
            var nodes = new List<ClusterNodeConfig>();
            var ids = new Dictionary<int, int>();
            var addresses = new Dictionary<IPAddress, int>();
            foreach (var item in sequence.Children)
            {
                if (item is not YamlMappingNode nodeMap)
                {
                    Error(item, "each node must be a mapping (id: ..., address: ...)");
                    ok = false;
                    continue;
                }
                var entries = Entries(nodeMap, Keys.Node);
                var nodeOk = true;

                int? id = null;
                if (Required(nodeMap, entries, "id") is { } idEntry && TryInt(idEntry, MinNodeId, MaxNodeId, out var idValue))
                {
                    var line = LineOf(idEntry.Value);
                    if (ids.TryGetValue(idValue, out var first)) nodeOk = ReportIf(idEntry, $"node id {idValue} is used twice (first at line {first})");
                    else
                    {
                        ids[idValue] = line;
                        id = idValue;
                    }
                }
                else nodeOk = false;

                IPAddress? address = null;
                if (Required(nodeMap, entries, "address") is { } addressEntry)
                {
                    address = ReadAddress(addressEntry, "node addresses", "address");
                    if (address is null) nodeOk = false;
                    else if (vip is not null && address.Equals(vip)) nodeOk = ReportIf(addressEntry, $"node address {address} is the service's VIP");
                    else if (addresses.TryGetValue(address, out var first))
                        nodeOk = ReportIf(addressEntry, $"node address {address} is used twice (first at line {first})");
                    else addresses[address] = LineOf(addressEntry.Value);
                }
                else nodeOk = false;

                var weight = BackendConfig.DefaultWeight;
                if (entries.TryGetValue("weight", out var weightEntry))
                {
                    if (TryInt(weightEntry, MinWeight, MaxWeight, out var value)) weight = value;
                    else nodeOk = false;
                }

                if (!nodeOk)
                {
                    ok = false;
                    continue;
                }
                nodes.Add(new ClusterNodeConfig { Id = id!.Value, Address = address!, Weight = weight, Line = LineOf(nodeMap) });
            }
            return ok ? nodes : null;
        }

        /// <summary>The service's backends. <paramref name="servicePort"/> (null when not known) is a NAT
        /// backend's port unless it sets its own; <paramref name="mode"/> is null when not known.</summary>
        private List<BackendConfig>? ReadBackends(Entry entry, IPAddress? vip, ushort? servicePort, ForwardingMode? mode)
        {
            if (!TrySequence(entry, out var sequence)) return null;
            if (sequence.Children.Count == 0)
            {
                Error(entry.Value, "backends must list at least one backend");
                return null;
            }

            var ok = true;
            var backends = new List<BackendConfig>();
            var names = new Dictionary<string, int>(StringComparer.Ordinal);
            var addresses = new Dictionary<IPAddress, (string Name, int Line)>();
            var endpoints = new Dictionary<(IPAddress, ushort), (string Name, int Line)>();
            foreach (var item in sequence.Children)
            {
                if (item is not YamlMappingNode backendMap)
                {
                    Error(item, "each backend must be a mapping (name: ..., address: ...)");
                    ok = false;
                    continue;
                }
                var backend = ReadBackend(backendMap, mode);
                if (backend is null)
                {
                    ok = false;
                    continue;
                }
                if (names.TryGetValue(backend.Name, out var firstLine))
                {
                    Error(backend.Line, $"duplicate backend name '{backend.Name}' in this service (first defined at line {firstLine})");
                    ok = false;
                }
                else names[backend.Name] = backend.Line;

                if (mode == ForwardingMode.DirectRouting)
                {
                    if (addresses.TryGetValue(backend.Address, out var first))
                    {
                        Error(backend.Line, $"backend '{backend.Name}' has address {backend.Address}, already used by backend '{first.Name}' (line {first.Line})");
                        ok = false;
                    }
                    else addresses[backend.Address] = (backend.Name, backend.Line);
                }
                else if ((backend.Port ?? servicePort) is { } effectivePort)
                {
                    // NAT rewrites the port too, so one address may serve several backends on different ports.
                    if (endpoints.TryGetValue((backend.Address, effectivePort), out var first))
                    {
                        Error(backend.Line, $"backend '{backend.Name}' has address {backend.Address} and port {effectivePort}, " +
                                            $"already used by backend '{first.Name}' (line {first.Line})");
                        ok = false;
                    }
                    else endpoints[(backend.Address, effectivePort)] = (backend.Name, backend.Line);
                }

                if (vip is not null && backend.Address.Equals(vip))
                {
                    Error(backend.Line, $"backend '{backend.Name}' address {backend.Address} is the service's VIP");
                    ok = false;
                }
                backends.Add(backend);
            }
            return ok ? backends : null;
        }

        private BackendConfig? ReadBackend(YamlMappingNode map, ForwardingMode? mode)
        {
            var entries = Entries(map, Keys.Backend);
            var ok = true;

            if (mode is { } known && known != ForwardingMode.Nat && entries.Remove("port", out var misplaced))
            {
                Error(misplaced.KeyNode, "'port' of a backend applies only to mode nat (DR cannot change the port)");
                ok = false;
            }

            var name = RequiredName(map, entries, "name", "backend");
            ok &= name is not null;

            IPAddress? address = null;
            if (Required(map, entries, "address") is { } addressEntry)
            {
                address = ReadAddress(addressEntry, "backends", "address");
                ok &= address is not null;
            }
            else ok = false;

            var weight = BackendConfig.DefaultWeight;
            ok &= OptionalInt(entries, "weight", MinWeight, MaxWeight, value => weight = value);

            MacAddress? mac = null;
            if (entries.TryGetValue("mac", out var macEntry))
            {
                if (!TryScalar(macEntry, out var text)) ok = false;
                else if (!MacAddress.TryParse(text, out var parsed)) ok = ReportIf(macEntry, $"mac must look like 02:00:00:00:00:11 (got '{text}')");
                else if (parsed.IsZero) ok = ReportIf(macEntry, "mac must not be the all-zero address");
                else if (parsed.IsMulticast) ok = ReportIf(macEntry, $"mac {parsed} is a multicast or broadcast address; a backend needs a unicast MAC");
                else mac = parsed;
            }

            var backup = false;
            ok &= OptionalBool(entries, "backup", value => backup = value);

            ushort? port = null;
            ok &= OptionalInt(entries, "port", 1, 65535, value => port = (ushort)value);

            if (!ok) return null;
            return new BackendConfig
            {
                Name = name!,
                Address = address!,
                Weight = weight,
                Mac = mac,
                Port = port,
                Backup = backup,
                Line = LineOf(map),
            };
        }

        /// <summary>A service's <c>health:</c> mapping. 'type' is required; keys that do not fit the type
        /// are reported (and their values not read) unless they are left empty; with no usable type every
        /// value is still checked.</summary>
        private HealthCheckConfig? ReadHealth(Entry healthEntry)
        {
            if (!TryMapping(healthEntry, out var map)) return null;
            var entries = Entries(map, Keys.Health);
            var ok = true;
            var health = new HealthCheckConfig { Line = LineOf(healthEntry.KeyNode) };

            HealthCheckType? type = null;
            if (Required(healthEntry.KeyNode, entries, "type") is { } typeEntry)
            {
                if (TryChoice(typeEntry, ModeNames.HealthCheckTypes, out var value)) type = value;
                else ok = false;
            }
            else ok = false;

            if (type is { } known)
            {
                health = health with { Type = known };
                foreach (var misplaced in entries.Values.Where(e => e.Key != "type" && !Fits(e.Key, known)).ToArray())
                {
                    // A key of another type left empty (payload: "", command: "", verify_tls: false) says
                    // nothing; the documented example of the contract writes them all out that way.
                    if (IsEmptyValue(misplaced.Value))
                    {
                        entries.Remove(misplaced.Key);
                        continue;
                    }
                    Error(misplaced.KeyNode, Keys.HealthTypeSpecific.TryGetValue(misplaced.Key, out var types)
                        ? $"'{misplaced.Key}' applies only to {string.Join('/', types.Select(ModeNames.Name))} checks"
                        : $"'{misplaced.Key}' does not apply when type is none");
                    entries.Remove(misplaced.Key);
                    ok = false;
                }
            }

            ok &= OptionalInt(entries, "port", 1, 65535, value => health = health with { Port = value });
            if (entries.TryGetValue("request", out var requestEntry))
            {
                if (!TryScalar(requestEntry, out var text)) ok = false;
                else if (ConfigSyntax.IsValidHttpRequestLine(text)) health = health with { Request = text };
                else ok = ReportIf(requestEntry, $"request must look like 'METHOD /path HTTP/1.x', e.g. 'GET /health HTTP/1.1' (got {Quoted(text)})");
            }
            if (entries.TryGetValue("host", out var hostEntry))
            {
                if (!TryScalar(hostEntry, out var text)) ok = false;
                else if (ConfigSyntax.IsValidHostHeader(text)) health = health with { Host = text };
                else ok = ReportIf(hostEntry, $"host must be a host name without whitespace or control characters (got {Quoted(text)})");
            }
            ok &= Optional(entries, "expect", ReadExpect, ranges => health = health with { Expect = ranges });
            if (entries.TryGetValue("soft_stop", out var softStopEntry))
            {
                if (softStopEntry.Value is YamlScalarNode { Value: "none" }) health = health with { SoftStopStatus = null };
                else if (TryInt(softStopEntry, 100, 599, out var status)) health = health with { SoftStopStatus = status };
                else ok = false;
            }
            if (entries.TryGetValue("payload", out var payloadEntry))
            {
                if (!TryScalar(payloadEntry, out var text)) ok = false;
                else if (Encoding.UTF8.GetByteCount(text) is var bytes && bytes > MaxUdpPayloadBytes)
                    ok = ReportIf(payloadEntry, $"payload is {bytes} bytes; a UDP datagram can carry at most {MaxUdpPayloadBytes}");
                else health = health with { Payload = text };
            }
            if (entries.TryGetValue("reply", out var replyEntry))
            {
                if (TryScalar(replyEntry, out var text)) health = health with { Reply = text };
                else ok = false;
            }
            if (entries.TryGetValue("command", out var commandEntry))
            {
                if (!TryScalar(commandEntry, out var text)) ok = false;
                else if (string.IsNullOrWhiteSpace(text)) ok = ReportIf(commandEntry, "command must not be empty");
                else if (text.Contains('\0')) ok = ReportIf(commandEntry, "command must not contain NUL characters");
                else health = health with { Command = text };
            }
            else if (type == HealthCheckType.Exec)
            {
                Error(healthEntry.KeyNode, "missing required key 'command' (type exec runs it)");
                ok = false;
            }
            ok &= OptionalBool(entries, "verify_tls", value => health = health with { VerifyCertificate = value });

            var durationsOk = true;
            var hasInterval = entries.TryGetValue("interval", out var intervalEntry);
            if (hasInterval)
            {
                if (TryDuration(intervalEntry, out var value)) health = health with { Interval = value };
                else ok = durationsOk = false;
            }
            var hasTimeout = entries.TryGetValue("timeout", out var timeoutEntry);
            if (hasTimeout)
            {
                if (TryDuration(timeoutEntry, out var value)) health = health with { Timeout = value };
                else ok = durationsOk = false;
            }
            if (durationsOk && health.Timeout > health.Interval)
            {
                var timeout = ConfigSyntax.FormatDuration(health.Timeout);
                var interval = ConfigSyntax.FormatDuration(health.Interval);
                ok = hasTimeout
                    ? ReportIf(timeoutEntry, $"timeout {timeout} must not be longer than the interval ({interval}{(hasInterval ? "" : ", the default")})")
                    : ReportIf(intervalEntry, $"interval {interval} is shorter than the default timeout ({timeout}); set a timeout no longer than the interval");
            }

            ok &= OptionalInt(entries, "rise", MinRiseFall, MaxRiseFall, value => health = health with { Rise = value });
            ok &= OptionalInt(entries, "fall", MinRiseFall, MaxRiseFall, value => health = health with { Fall = value });
            ok &= OptionalChoice(entries, "initial", Choices.Initial, value => health = health with { Initial = value });

            return ok ? health : null;

            static bool Fits(string key, HealthCheckType type) =>
                Keys.HealthTypeSpecific.TryGetValue(key, out var types) ? types.Contains(type) : type != HealthCheckType.None;
        }

        /// <summary><c>cpus:</c> a CPU number, a list of them, or a range "1-3" (as taskset takes them).</summary>
        private List<int>? ReadCpus(Entry entry)
        {
            var cpus = new List<int>();
            var items = entry.Value is YamlSequenceNode list ? list.Children.Select(c => new Entry(entry.Key, entry.KeyNode, c)).ToList() : [entry];
            if (items.Count == 0) return ReportIf(entry, "cpus must list at least one CPU") ? cpus : null;
            foreach (var item in items)
            {
                if (!TryScalar(item, out var text)) return null;
                var range = text.Split('-');
                if (range.Length > 2 || !range.All(r => int.TryParse(r, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)))
                    return ReportIf(item, $"cpus must be CPU numbers or ranges like 1-3 (got {Quoted(text)})") ? cpus : null;
                var first = int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
                var last = int.Parse(range[^1], System.Globalization.CultureInfo.InvariantCulture);
                if (first > last || last >= CpuAffinity.MaxCpus)
                    return ReportIf(item, $"cpus: {Quoted(text)} is not a range of CPUs 0..{CpuAffinity.MaxCpus - 1}") ? cpus : null;
                for (var c = first; c <= last; c++)
                {
                    if (cpus.Contains(c)) return ReportIf(item, $"cpus: CPU {c} is listed twice") ? cpus : null;
                    cpus.Add(c);
                }
            }
            return cpus;
        }

        /// <summary>A NAT service's <c>timeouts:</c> mapping, or the engine's <c>flow_timeouts:</c>; every key is
        /// optional, each a duration up to <see cref="MaxSessionTimeout"/>.</summary>
        private SessionTimeouts? ReadTimeouts(Entry timeoutsEntry)
        {
            if (!TryMapping(timeoutsEntry, out var map)) return null;
            var entries = Entries(map, Keys.Timeouts);
            var ok = true;
            var timeouts = SessionTimeouts.Default;
            ok &= OptionalDuration(entries, "tcp_syn", MaxSessionTimeout, value => timeouts = timeouts with { TcpSyn = value });
            ok &= OptionalDuration(entries, "tcp_established", MaxSessionTimeout, value => timeouts = timeouts with { TcpEstablished = value });
            ok &= OptionalDuration(entries, "tcp_closing", MaxSessionTimeout, value => timeouts = timeouts with { TcpClosing = value });
            ok &= OptionalDuration(entries, "udp", MaxSessionTimeout, value => timeouts = timeouts with { Udp = value });
            return ok ? timeouts : null;
        }

        /// <summary>The http/https <c>expect:</c> value: "200", "200-299,301", or a list of such items.
        /// Every bad item is reported, each at its own line.</summary>
        private List<StatusRange>? ReadExpect(Entry entry)
        {
            var ranges = new List<StatusRange>();
            if (entry.Value is not YamlSequenceNode sequence)
                return TryScalar(entry, out var text) && AddStatusRanges(entry.Value, text, ranges) ? ranges : null;

            if (sequence.Children.Count == 0)
            {
                Error(entry.Value, "expect must list at least one status code or range");
                return null;
            }
            var ok = true;
            foreach (var item in sequence.Children)
            {
                if (item is YamlScalarNode { Value: { } text } && !IsNull(item)) ok &= AddStatusRanges(item, text, ranges);
                else
                {
                    Error(item, "each expect item must be a status code like 200 or a range like 200-299");
                    ok = false;
                }
            }
            return ok ? ranges : null;
        }

        private bool AddStatusRanges(YamlNode node, string text, List<StatusRange> ranges)
        {
            var ok = true;
            foreach (var item in text.Split(','))
            {
                if (StatusRangeProblem(item.Trim(), out var range) is { } problem)
                {
                    Error(node, problem);
                    ok = false;
                }
                else ranges.Add(range);
            }
            return ok;
        }

        /// <summary>Why one expect item ("200" or "200-299") is not a status code or range of codes
        /// 100..599, or null with the range.</summary>
        private static string? StatusRangeProblem(string item, out StatusRange range)
        {
            range = default;
            var dash = item.IndexOf('-');
            var from = (dash < 0 ? item : item[..dash]).Trim();
            var to = (dash < 0 ? item : item[(dash + 1)..]).Trim();
            if (!IsDigits(from) || !IsDigits(to))
                return $"expect item {Quoted(item)} must be a status code like 200 or a range like 200-299";
            foreach (var code in dash < 0 ? [from] : new[] { from, to })
                if (code.Length > 3 || int.Parse(code, CultureInfo.InvariantCulture) is < 100 or > 599)
                    return $"expect status {code} is not an HTTP status code (100 to 599)";
            var (low, high) = (int.Parse(from, CultureInfo.InvariantCulture), int.Parse(to, CultureInfo.InvariantCulture));
            if (low > high) return $"expect range {low}-{high} is backwards (write {high}-{low})";
            range = new StatusRange(low, high);
            return null;

            static bool IsDigits(string s) => s.Length > 0 && !s.AsSpan().ContainsAnyExceptInRange('0', '9');
        }

        // ---- building blocks -------------------------------------------------------------------

        private readonly record struct Entry(string Key, YamlNode KeyNode, YamlNode Value);

        private static bool IsEmptyValue(YamlNode value) =>
            value is YamlScalarNode { Value: null or "" or "false" or "False" or "FALSE" };

        /// <summary>The mapping's entries by key; reports keys that are not plain strings, unknown keys
        /// and (defensively) repeated keys.</summary>
        private Dictionary<string, Entry> Entries(YamlMappingNode map, string[] allowed)
        {
            var result = new Dictionary<string, Entry>(StringComparer.Ordinal);
            foreach (var (keyNode, value) in map.Children)
            {
                if (keyNode is not YamlScalarNode { Value: { } key })
                {
                    Error(keyNode, "keys must be plain names, not lists or mappings");
                    continue;
                }
                if (!allowed.Contains(key, StringComparer.Ordinal))
                {
                    var hint = Suggest(key, allowed);
                    Error(keyNode, hint is null ? $"unknown key '{key}'" : $"unknown key '{key}' (did you mean '{hint}'?)");
                    continue;
                }
                if (result.TryGetValue(key, out var first))
                {
                    Error(keyNode, $"duplicate key '{key}' (first at line {LineOf(first.KeyNode)})");
                    continue;
                }
                result[key] = new Entry(key, keyNode, value);
            }
            return result;
        }

        /// <summary>A known key that differs only in case, '-' vs '_', or camelCase.</summary>
        private static string? Suggest(string key, string[] allowed)
        {
            static string Fold(string s) => s.Replace("_", "").Replace("-", "").ToLowerInvariant();
            var folded = Fold(key);
            return allowed.FirstOrDefault(a => Fold(a) == folded);
        }

        /// <summary>The entry for <paramref name="key"/>, or null after reporting it missing at
        /// <paramref name="owner"/> (the mapping, or the key that holds it).</summary>
        private Entry? Required(YamlNode owner, Dictionary<string, Entry> entries, string key)
        {
            if (entries.TryGetValue(key, out var entry)) return entry;
            Error(owner, $"missing required key '{key}'");
            return null;
        }

        private static bool IsNull(YamlNode node) =>
            node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } s && s.Value is null or "" or "~" or "null" or "Null" or "NULL";

        /// <summary>The entry's value as a scalar string; reports nulls and lists/mappings.</summary>
        private bool TryScalar(Entry entry, out string value)
        {
            value = "";
            switch (entry.Value)
            {
                case YamlScalarNode scalar when IsNull(scalar):
                    Error(entry.KeyNode, $"{entry.Key} has no value");
                    return false;
                case YamlScalarNode scalar:
                    value = scalar.Value ?? "";
                    return true;
                case YamlSequenceNode:
                    Error(entry.Value, $"{entry.Key} must be a single value, not a list");
                    return false;
                case YamlMappingNode:
                    Error(entry.Value, $"{entry.Key} must be a single value, not a mapping");
                    return false;
                default:
                    Error(entry.Value, $"{entry.Key} must be a single value");
                    return false;
            }
        }

        private bool TrySequence(Entry entry, out YamlSequenceNode sequence)
        {
            sequence = null!;
            switch (entry.Value)
            {
                case YamlSequenceNode s:
                    sequence = s;
                    return true;
                case YamlScalarNode scalar when IsNull(scalar):
                    Error(entry.KeyNode, $"{entry.Key} has no value; it must be a list");
                    return false;
                case YamlMappingNode:
                    Error(entry.Value, $"{entry.Key} must be a list (each item starting with '- '), not a mapping");
                    return false;
                default:
                    Error(entry.Value, $"{entry.Key} must be a list (each item starting with '- ')");
                    return false;
            }
        }

        private bool TryMapping(Entry entry, out YamlMappingNode mapping)
        {
            mapping = null!;
            switch (entry.Value)
            {
                case YamlMappingNode m:
                    mapping = m;
                    return true;
                case YamlScalarNode scalar when IsNull(scalar):
                    Error(entry.KeyNode, $"{entry.Key} has no value; it must be a mapping (key: value)");
                    return false;
                case YamlSequenceNode:
                    Error(entry.Value, $"{entry.Key} must be a mapping (key: value), not a list");
                    return false;
                default:
                    Error(entry.Value, $"{entry.Key} must be a mapping (key: value), not a single value");
                    return false;
            }
        }

        /// <summary>Reports the error at the entry's value and returns false, for use as
        /// <c>ok = ReportIf(...)</c>.</summary>
        private bool ReportIf(Entry entry, string message)
        {
            Error(entry.Value, message);
            return false;
        }

        private delegate bool TryRead<T>(Entry entry, out T value);

        /// <summary>An optional key: absent leaves the default alone; present and valid hands the value to
        /// <paramref name="use"/>; present and invalid (reported by the reader) returns false.</summary>
        private static bool Optional<T>(Dictionary<string, Entry> entries, string key, TryRead<T> read, Action<T> use)
        {
            if (!entries.TryGetValue(key, out var entry)) return true;
            if (!read(entry, out var value)) return false;
            use(value);
            return true;
        }

        /// <summary>An optional key read by a reader that returns null for an invalid value.</summary>
        private static bool Optional<T>(Dictionary<string, Entry> entries, string key, Func<Entry, T?> read, Action<T> use) where T : class =>
            Optional(entries, key, (Entry e, out T v) => (v = read(e)!) is not null, use);

        private bool OptionalInt(Dictionary<string, Entry> entries, string key, int min, int max, Action<int> use) =>
            Optional(entries, key, (Entry e, out int v) => TryInt(e, min, max, out v), use);

        private bool OptionalBool(Dictionary<string, Entry> entries, string key, Action<bool> use) => Optional<bool>(entries, key, TryBool, use);

        private bool OptionalDuration(Dictionary<string, Entry> entries, string key, TimeSpan max, Action<TimeSpan> use) =>
            Optional(entries, key, (Entry e, out TimeSpan v) => TryDuration(e, out v, max), use);

        private bool OptionalChoice<T>(Dictionary<string, Entry> entries, string key, (string Name, T Value)[] choices, Action<T> use) =>
            Optional(entries, key, (Entry e, out T v) => TryChoice(e, choices, out v), use);

        private bool TryInt(Entry entry, int min, int max, out int value)
        {
            value = 0;
            if (!TryScalar(entry, out var text)) return false;
            if (!IsInteger(text)) return ReportIf(entry, $"{entry.Key} must be an integer (got '{text}')");
            if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) || parsed < min || parsed > max)
                return ReportIf(entry, $"{entry.Key} must be between {min} and {max} (got {text})");
            value = (int)parsed;
            return true;
        }

        /// <summary>One of <paramref name="choices"/>, spelled exactly; otherwise lists them all.</summary>
        private bool TryChoice<T>(Entry entry, (string Name, T Value)[] choices, out T value)
        {
            value = default!;
            if (!TryScalar(entry, out var text)) return false;
            foreach (var (name, choice) in choices)
            {
                if (name != text) continue;
                value = choice;
                return true;
            }
            var names = choices.Select(c => $"'{c.Name}'").ToArray();
            var allowed = names.Length == 2
                ? $"{names[0]} or {names[1]}"
                : $"one of {string.Join(", ", names[..^1])} or {names[^1]}";
            return ReportIf(entry, $"{entry.Key} must be {allowed} (got {Quoted(text)})");
        }

        /// <summary>true or false (also True/TRUE/False/FALSE); YAML 1.1's yes/no/on/off are refused as
        /// ambiguous.</summary>
        private bool TryBool(Entry entry, out bool value)
        {
            value = false;
            if (!TryScalar(entry, out var text)) return false;
            switch (text)
            {
                case "true" or "True" or "TRUE":
                    value = true;
                    return true;
                case "false" or "False" or "FALSE":
                    return true;
                default:
                    return ReportIf(entry, $"{entry.Key} must be true or false (got {Quoted(text)})");
            }
        }

        /// <summary>A duration: see <see cref="ConfigSyntax.TryParseDuration"/>; greater than 0 and at most
        /// <paramref name="max"/> (by default <see cref="MaxHealthInterval"/>, the health check limit).</summary>
        private bool TryDuration(Entry entry, out TimeSpan value, TimeSpan? max = null)
        {
            var limit = max ?? MaxHealthInterval;
            value = TimeSpan.Zero;
            if (!TryScalar(entry, out var text)) return false;
            if (!ConfigSyntax.TryParseDuration(text, out value))
                return ReportIf(entry, $"invalid duration {Quoted(text)} (use e.g. 500ms, 2s, 1m)");
            if (value <= TimeSpan.Zero) return ReportIf(entry, $"{entry.Key} must be greater than 0 (got {Quoted(text)})");
            if (value > limit)
                return ReportIf(entry, $"{entry.Key} must be at most {ConfigSyntax.FormatDuration(limit)} (got {Quoted(text)})");
            return true;
        }

        /// <summary>A value echoed in a message, in single quotes, with control characters escaped so
        /// that one error stays on one line.</summary>
        private static string Quoted(string text)
        {
            var builder = new StringBuilder(text.Length + 2).Append('\'');
            foreach (var c in text)
                builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
            return builder.Append('\'').ToString();
        }

        /// <summary>Optional sign and decimal digits only (no hex, no exponent, no separators).</summary>
        private static bool IsInteger(string text)
        {
            var digits = text.StartsWith('-') || text.StartsWith('+') ? text.AsSpan(1) : text.AsSpan();
            return digits.Length > 0 && !digits.ContainsAnyExceptInRange('0', '9');
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

        private bool CheckSocketPath(Entry entry, string path)
        {
            if (!path.StartsWith('/')) return ReportIf(entry, $"control_socket must be an absolute path (got '{path}')");
            if (path.EndsWith('/')) return ReportIf(entry, $"control_socket must name a socket file, not a directory (got '{path}')");
            if (path.Contains('\0')) return ReportIf(entry, "control_socket must not contain NUL characters");
            var bytes = Encoding.UTF8.GetByteCount(path);
            if (bytes > MaxUnixSocketPathBytes)
                return ReportIf(entry, $"control_socket path is {bytes} bytes; a unix socket path can be at most {MaxUnixSocketPathBytes}");
            return true;
        }

        private string? RequiredName(YamlMappingNode map, Dictionary<string, Entry> entries, string key, string what)
        {
            if (Required(map, entries, key) is not { } entry || !TryScalar(entry, out var text)) return null;
            if (ConfigSyntax.IsValidName(text)) return text;
            ReportIf(entry, $"{what} {key} '{text}' may only contain letters, digits, '_', '.' and '-'");
            return null;
        }

        private string? RequiredInterface(YamlMappingNode map, Dictionary<string, Entry> entries, string key) =>
            Required(map, entries, key) is { } entry ? ReadInterface(entry, key) : null;

        private string? ReadInterface(Entry entry, string key)
        {
            if (!TryScalar(entry, out var text)) return null;
            if (ConfigSyntax.IsValidInterfaceName(text)) return text;
            ReportIf(entry, $"{key} '{text}' is not a valid interface name (1 to 15 characters, no '/', ':' or whitespace)");
            return null;
        }

        /// <summary>An IPv4 address for a VIP, backend or gateway; <paramref name="plural"/> names the thing in the
        /// "IPv6 ... are not supported yet" message.</summary>
        private IPAddress? ReadAddress(Entry entry, string plural, string key)
        {
            if (!TryScalar(entry, out var text)) return null;
            if (ConfigSyntax.TryParseIpv4(text, out var address))
            {
                if (ConfigSyntax.UnusableAddressReason(address) is { } reason)
                {
                    ReportIf(entry, $"{key} {address} {reason}");
                    return null;
                }
                return address;
            }
            ReportIf(entry, ConfigSyntax.LooksLikeIpv6(text)
                ? $"IPv6 {plural} are not supported yet"
                : $"{key} must be an IPv4 address like 10.0.0.1 (got '{text}')");
            return null;
        }
    }
}
