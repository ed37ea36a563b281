using System.Net;
using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration.Sections;

/// <summary>A service's <c>backends</c> list: each backend, and what must be unique among them (names; addresses
/// in DR, address and port in NAT, which rewrites the port).</summary>
internal sealed class BackendSection(ConfigReader r)
{
    private static readonly string[] Keys = ["name", "address", "weight", "mac", "backup", "port", "max_connections", "min_connections"];

    /// <summary>The service's backends. <paramref name="servicePort"/> (null when not known) is a NAT
    /// backend's port unless it sets its own; <paramref name="mode"/> is null when not known.</summary>
    public List<BackendConfig>? ReadAll(YamlEntry entry, IPAddress? vip, ushort? servicePort, ForwardingMode? mode)
    {
        if (!r.TrySequence(entry, out var sequence)) return null;
        if (sequence.Children.Count == 0)
        {
            r.Error(entry.Value, "backends must list at least one backend");
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
                r.Error(item, "each backend must be a mapping (name: ..., address: ...)");
                ok = false;
                continue;
            }
            var backend = Read(backendMap, mode, vip);
            if (backend is null)
            {
                ok = false;
                continue;
            }
            if (names.TryGetValue(backend.Name, out var firstLine))
            {
                r.Error(backend.Line, $"duplicate backend name '{backend.Name}' in this service (first defined at line {firstLine})");
                ok = false;
            }
            else names[backend.Name] = backend.Line;

            if (mode == ForwardingMode.DirectRouting)
            {
                if (addresses.TryGetValue(backend.Address, out var first))
                {
                    r.Error(backend.Line, $"backend '{backend.Name}' has address {backend.Address}, already used by backend '{first.Name}' (line {first.Line})");
                    ok = false;
                }
                else addresses[backend.Address] = (backend.Name, backend.Line);
            }
            else if ((backend.Port ?? servicePort) is { } effectivePort)
            {
                // NAT rewrites the port too, so one address may serve several backends on different ports.
                if (endpoints.TryGetValue((backend.Address, effectivePort), out var first))
                {
                    r.Error(backend.Line, $"backend '{backend.Name}' has address {backend.Address} and port {effectivePort}, " +
                                        $"already used by backend '{first.Name}' (line {first.Line})");
                    ok = false;
                }
                else endpoints[(backend.Address, effectivePort)] = (backend.Name, backend.Line);
            }

            if (vip is not null && backend.Address.Equals(vip))
            {
                r.Error(backend.Line, $"backend '{backend.Name}' address {backend.Address} is the service's VIP");
                ok = false;
            }
            backends.Add(backend);
        }
        return ok ? backends : null;
    }

    private BackendConfig? Read(YamlMappingNode map, ForwardingMode? mode, IPAddress? vip)
    {
        var entries = r.Entries(map, Keys);
        var ok = true;

        if (mode is { } known && known != ForwardingMode.Nat && entries.Remove("port", out var misplaced))
        {
            r.Error(misplaced.KeyNode, "'port' of a backend applies only to mode nat (DR cannot change the port)");
            ok = false;
        }

        var name = r.RequiredName(map, entries, "name", "backend");
        ok &= name is not null;

        IPAddress? address = null;
        if (r.Required(map, entries, "address") is { } addressEntry)
        {
            address = r.ReadAddress(addressEntry, "address");
            if (address is not null && ConfigSyntax.MixedFamilyReason(address, vip) is { } mixed)
            {
                r.ReportIf(addressEntry, $"address {address} {mixed}");
                address = null;
            }
            ok &= address is not null;
        }
        else ok = false;

        var weight = BackendConfig.DefaultWeight;
        ok &= r.OptionalInt(entries, "weight", ConfigLimits.MinWeight, ConfigLimits.MaxWeight, value => weight = value);

        MacAddress? mac = null;
        if (entries.TryGetValue("mac", out var macEntry))
        {
            if (!r.TryScalar(macEntry, out var text)) ok = false;
            else if (!MacAddress.TryParse(text, out var parsed)) ok = r.ReportIf(macEntry, $"mac must look like 02:00:00:00:00:11 (got '{text}')");
            else if (parsed.IsZero) ok = r.ReportIf(macEntry, "mac must not be the all-zero address");
            else if (parsed.IsMulticast) ok = r.ReportIf(macEntry, $"mac {parsed} is a multicast or broadcast address; a backend needs a unicast MAC");
            else mac = parsed;
        }

        var backup = false;
        ok &= r.OptionalBool(entries, "backup", value => backup = value);

        ushort? port = null;
        ok &= r.OptionalInt(entries, "port", 1, 65535, value => port = (ushort)value);

        var (limitOk, maxConnections, minConnections) = ReadLimit(entries);
        ok &= limitOk;

        if (!ok) return null;
        return new BackendConfig
        {
            Name = name!,
            Address = address!,
            Weight = weight,
            Mac = mac,
            Port = port,
            Backup = backup,
            MaxConnections = maxConnections,
            MinConnections = minConnections,
            Line = ConfigReader.LineOf(map),
        };
    }

    /// <summary><c>max_connections</c> and <c>min_connections</c>. Without max there is no limit, so a min alone
    /// would be ignored without a word: refused. A full backend takes new flows again once its count is below min, so
    /// min above max would act as min equal to max while it says otherwise: refused too; equal is allowed.</summary>
    private (bool Ok, int Max, int? Min) ReadLimit(Dictionary<string, YamlEntry> entries)
    {
        var max = 0;
        int? min = null;
        var ok = r.OptionalInt(entries, "max_connections", ConfigLimits.MinConnectionLimit, ConfigLimits.MaxConnectionLimit, value => max = value);
        ok &= r.OptionalInt(entries, "min_connections", ConfigLimits.MinConnectionLimit, ConfigLimits.MaxConnectionLimit, value => min = value);
        if (min is { } minValue && entries.TryGetValue("min_connections", out var minEntry))
        {
            // max stays 0 when its value was refused: that error is the one to read, not a second one here.
            if (!entries.ContainsKey("max_connections"))
                ok = r.ReportIf(minEntry, "min_connections needs max_connections (a full backend takes new flows again below min_connections)");
            else if (max > 0 && minValue > max)
                ok = r.ReportIf(minEntry, $"min_connections {minValue} is above max_connections {max} (a full backend takes new flows again below min_connections)");
        }
        return (ok, max, min);
    }
}
