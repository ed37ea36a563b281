using System.Globalization;
using System.Net;
using System.Text;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;
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
    public const int MinMaglevTableSize = 251, MaxMaglevTableSize = 1_000_003;
    public const int MinWeight = 0, MaxWeight = 1_000_000;

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
        public static readonly string[] Root = ["hash_seed", "workers", "control_socket", "flow_table_size", "maglev_table_size", "services"];
        public static readonly string[] Service = ["name", "vip", "port", "protocol", "mode", "interface", "backend_interface", "backends"];
        public static readonly string[] Backend = ["name", "address", "weight", "mac"];
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
            if (entries.TryGetValue("workers", out var workers))
            {
                if (TryInt(workers, MinWorkers, MaxWorkers, out var value)) config = config with { Workers = value };
                else ok = false;
            }
            if (entries.TryGetValue("control_socket", out var socket))
            {
                if (TryScalar(socket, out var path) && CheckSocketPath(socket, path)) config = config with { ControlSocket = path };
                else ok = false;
            }
            if (entries.TryGetValue("flow_table_size", out var flows))
            {
                if (TryInt(flows, MinFlowTableSize, MaxFlowTableSize, out var value)) config = config with { FlowTableSize = value };
                else ok = false;
            }
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
            if (entries.TryGetValue("protocol", out var protocolEntry))
            {
                if (!TryScalar(protocolEntry, out var text)) ok = false;
                else if (text == "tcp") protocol = TransportProtocol.Tcp;
                else if (text == "udp") protocol = TransportProtocol.Udp;
                else ok = ReportIf(protocolEntry, $"protocol must be 'tcp' or 'udp' (got '{text}')");
            }

            var mode = ForwardingMode.DirectRouting;
            if (entries.TryGetValue("mode", out var modeEntry))
            {
                if (!TryScalar(modeEntry, out var text)) ok = false;
                else if (text == "dr") mode = ForwardingMode.DirectRouting;
                else if (text is "nat" or "clusterip") ok = ReportIf(modeEntry, $"mode '{text}' is not implemented yet");
                else ok = ReportIf(modeEntry, $"mode must be 'dr' (got '{text}')");
            }

            var iface = RequiredInterface(map, entries, "interface");
            ok &= iface is not null;

            string? backendIface = null;
            if (entries.TryGetValue("backend_interface", out var backendIfaceEntry))
            {
                backendIface = ReadInterface(backendIfaceEntry, "backend_interface");
                ok &= backendIface is not null;
            }

            List<BackendConfig>? backends = null;
            if (Required(map, entries, "backends") is { } backendsEntry)
            {
                backends = ReadBackends(backendsEntry, vip);
                if (backends is not null && backends.Count > maglevSize)
                {
                    Error(backendsEntry.Value, $"{backends.Count} backends do not fit a Maglev table of {maglevSize} entries; raise maglev_table_size");
                    ok = false;
                }
            }
            ok &= backends is not null;

            if (!ok) return null;
            return new ServiceConfig
            {
                Name = name!,
                Vip = vip!,
                Port = port,
                Protocol = protocol,
                Mode = mode,
                Interface = iface!,
                BackendInterface = backendIface,
                Backends = backends!,
                Line = LineOf(map),
            };
        }

        private List<BackendConfig>? ReadBackends(Entry entry, IPAddress? vip)
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
            foreach (var item in sequence.Children)
            {
                if (item is not YamlMappingNode backendMap)
                {
                    Error(item, "each backend must be a mapping (name: ..., address: ...)");
                    ok = false;
                    continue;
                }
                var backend = ReadBackend(backendMap);
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

                if (addresses.TryGetValue(backend.Address, out var first))
                {
                    Error(backend.Line, $"backend '{backend.Name}' has address {backend.Address}, already used by backend '{first.Name}' (line {first.Line})");
                    ok = false;
                }
                else addresses[backend.Address] = (backend.Name, backend.Line);

                if (vip is not null && backend.Address.Equals(vip))
                {
                    Error(backend.Line, $"backend '{backend.Name}' address {backend.Address} is the service's VIP");
                    ok = false;
                }
                backends.Add(backend);
            }
            return ok ? backends : null;
        }

        private BackendConfig? ReadBackend(YamlMappingNode map)
        {
            var entries = Entries(map, Keys.Backend);
            var ok = true;

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
            if (entries.TryGetValue("weight", out var weightEntry))
            {
                if (TryInt(weightEntry, MinWeight, MaxWeight, out var value)) weight = value;
                else ok = false;
            }

            MacAddress? mac = null;
            if (entries.TryGetValue("mac", out var macEntry))
            {
                if (!TryScalar(macEntry, out var text)) ok = false;
                else if (!MacAddress.TryParse(text, out var parsed)) ok = ReportIf(macEntry, $"mac must look like 02:00:00:00:00:11 (got '{text}')");
                else if (parsed.IsZero) ok = ReportIf(macEntry, "mac must not be the all-zero address");
                else if (parsed.IsMulticast) ok = ReportIf(macEntry, $"mac {parsed} is a multicast or broadcast address; a backend needs a unicast MAC");
                else mac = parsed;
            }

            if (!ok) return null;
            return new BackendConfig
            {
                Name = name!,
                Address = address!,
                Weight = weight,
                Mac = mac,
                Line = LineOf(map),
            };
        }

        // ---- building blocks -------------------------------------------------------------------

        private readonly record struct Entry(string Key, YamlNode KeyNode, YamlNode Value);

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

        private Entry? Required(YamlMappingNode map, Dictionary<string, Entry> entries, string key)
        {
            if (entries.TryGetValue(key, out var entry)) return entry;
            Error(map, $"missing required key '{key}'");
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

        /// <summary>Reports the error at the entry's value and returns false, for use as
        /// <c>ok = ReportIf(...)</c>.</summary>
        private bool ReportIf(Entry entry, string message)
        {
            Error(entry.Value, message);
            return false;
        }

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

        /// <summary>An IPv4 address for a VIP or backend; <paramref name="plural"/> names the thing in the
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
