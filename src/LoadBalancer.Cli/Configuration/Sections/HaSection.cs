using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Cli.Configuration.Sections;

/// <summary>The <c>ha:</c> section: the engine's first role, its gratuitous ARPs on takeover, and state sync
/// with the peer. The sync key is read here, so <c>lb check</c> refuses a key the engine could not use.</summary>
internal sealed class HaSection(ConfigReader r)
{
    private static readonly string[] Keys = ["initial_role", "garp", "sync"];
    private static readonly string[] GarpKeys = ["count", "interval"];
    private static readonly string[] SyncKeys = ["peer", "port", "interface", "key_file"];
    /// <summary>keepalived's states, less fault: an engine does not start in fault.</summary>
    private static readonly (string, HaRole)[] Roles = [.. ModeNames.HaRoles.Where(r => r.Value != HaRole.Fault)];

    public HaConfig? Read(YamlEntry haEntry)
    {
        if (!r.TryMapping(haEntry, out var map)) return null;
        var entries = r.Entries(map, Keys);
        var ha = new HaConfig { Line = ConfigReader.LineOf(haEntry.KeyNode) };
        var ok = r.OptionalChoice(entries, "initial_role", Roles, value => ha = ha with { InitialRole = value });
        if (entries.TryGetValue("garp", out var garpEntry))
        {
            if (r.TryMapping(garpEntry, out var garpMap))
            {
                var garp = r.Entries(garpMap, GarpKeys);
                ok &= r.OptionalInt(garp, "count", ConfigLimits.MinGarpCount, ConfigLimits.MaxGarpCount, value => ha = ha with { GarpCount = value });
                ok &= r.OptionalDuration(garp, "interval", ConfigLimits.MaxGarpInterval, value => ha = ha with { GarpInterval = value });
            }
            else ok = false;
        }
        ok &= ConfigReader.Optional(entries, "sync", ReadSync, value => ha = ha with { Sync = value });
        return ok ? ha : null;
    }

    private HaSyncConfig? ReadSync(YamlEntry syncEntry)
    {
        if (!r.TryMapping(syncEntry, out var map)) return null;
        var entries = r.Entries(map, SyncKeys);
        var peer = r.Required(syncEntry.KeyNode, entries, "peer") is { } peerEntry ? r.ReadIpv4Address(peerEntry, "sync peers", "peer") : null;
        var ok = peer is not null;
        var port = HaSyncConfig.DefaultPort;
        ok &= r.OptionalInt(entries, "port", 1, 65535, value => port = value);
        string? device = null;
        if (entries.TryGetValue("interface", out var interfaceEntry))
        {
            device = r.ReadInterface(interfaceEntry, "interface");
            ok &= device is not null;
        }
        string? keyFile = null;
        byte[]? key = null;
        if (entries.TryGetValue("key_file", out var keyEntry))
        {
            if (!r.TryScalar(keyEntry, out var path)) ok = false;
            else if (SyncKeyFile.Read(path, out key) is { } problem) ok = r.ReportIf(keyEntry, $"key_file {ConfigReader.Quoted(path)}: {problem}");
            else keyFile = path;
        }
        return ok
            ? new HaSyncConfig { Peer = peer!, Port = port, Interface = device, KeyFile = keyFile, Key = key, Line = ConfigReader.LineOf(syncEntry.KeyNode) }
            : null;
    }
}
