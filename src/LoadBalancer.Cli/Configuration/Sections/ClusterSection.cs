using System.Net;
using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration.Sections;

/// <summary>A CLUSTERIP service's <c>cluster:</c> section and its <c>nodes</c>.</summary>
internal sealed class ClusterSection(ConfigReader r)
{
    private static readonly string[] Keys = ["mac", "hash", "local_node", "nodes", "heartbeat_port"];
    private static readonly string[] NodeKeys = ["id", "address", "weight"];

    /// <summary>A service's <c>cluster:</c> mapping (mode clusterip): the shared multicast MAC, the hash
    /// mode, the nodes and which of them this one is.</summary>
    public ClusterConfig? Read(YamlEntry clusterEntry, IPAddress? vip)
    {
        if (!r.TryMapping(clusterEntry, out var map)) return null;
        var entries = r.Entries(map, Keys);
        var ok = true;

        MacAddress? mac = null;
        if (r.Required(clusterEntry.KeyNode, entries, "mac") is { } macEntry)
        {
            if (!r.TryScalar(macEntry, out var text)) ok = false;
            else if (!MacAddress.TryParse(text, out var parsed)) ok = r.ReportIf(macEntry, $"mac must look like 01:00:5e:7f:00:64 (got {ConfigReader.Quoted(text)})");
            else if (parsed == MacAddress.Broadcast) ok = r.ReportIf(macEntry, $"cluster mac {parsed} is the broadcast MAC");
            else if (!parsed.IsMulticast)
                ok = r.ReportIf(macEntry, $"cluster mac {parsed} is not a multicast MAC (its first byte must be odd, e.g. 01:00:5e:...)");
            else mac = parsed;
        }
        else ok = false;

        var hash = ClusterHash.SourceIpSourcePort;
        ok &= r.OptionalChoice(entries, "hash", ModeNames.ClusterHashes, value => hash = value);

        var heartbeat = ClusterConfig.DefaultHeartbeatPort;
        ok &= r.OptionalInt(entries, "heartbeat_port", 0, 65535, value => heartbeat = value);

        int? localNode = null;
        YamlEntry localEntry = default;
        if (r.Required(clusterEntry.KeyNode, entries, "local_node") is { } found)
        {
            localEntry = found;
            if (r.TryInt(found, ConfigLimits.MinNodeId, ConfigLimits.MaxNodeId, out var value)) localNode = value;
            else ok = false;
        }
        else ok = false;

        List<ClusterNodeConfig>? nodes = null;
        if (r.Required(clusterEntry.KeyNode, entries, "nodes") is { } nodesEntry) nodes = ReadNodes(nodesEntry, vip);
        ok &= nodes is not null;

        if (localNode is { } local && nodes is not null && !nodes.Any(n => n.Id == local))
            ok = r.ReportIf(localEntry, $"local_node {local} is not one of the nodes ({string.Join(", ", nodes.Select(n => n.Id))})");

        if (!ok) return null;
        return new ClusterConfig
        {
            Mac = mac!.Value,
            Hash = hash,
            LocalNode = localNode!.Value,
            Nodes = nodes!,
            HeartbeatPort = heartbeat,
            Line = ConfigReader.LineOf(clusterEntry.KeyNode),
        };
    }

    private List<ClusterNodeConfig>? ReadNodes(YamlEntry entry, IPAddress? vip)
    {
        if (!r.TrySequence(entry, out var sequence)) return null;
        if (sequence.Children.Count == 0)
        {
            r.Error(entry.Value, "nodes must list at least one node");
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
                r.Error(item, "each node must be a mapping (id: ..., address: ...)");
                ok = false;
                continue;
            }
            var entries = r.Entries(nodeMap, NodeKeys);
            var nodeOk = true;

            int? id = null;
            if (r.Required(nodeMap, entries, "id") is { } idEntry && r.TryInt(idEntry, ConfigLimits.MinNodeId, ConfigLimits.MaxNodeId, out var idValue))
            {
                var line = ConfigReader.LineOf(idEntry.Value);
                if (ids.TryGetValue(idValue, out var first)) nodeOk = r.ReportIf(idEntry, $"node id {idValue} is used twice (first at line {first})");
                else
                {
                    ids[idValue] = line;
                    id = idValue;
                }
            }
            else nodeOk = false;

            IPAddress? address = null;
            if (r.Required(nodeMap, entries, "address") is { } addressEntry)
            {
                address = r.ReadAddress(addressEntry, "address");
                if (address is null) nodeOk = false;
                else if (ConfigSyntax.MixedFamilyReason(address, vip) is { } mixed) nodeOk = r.ReportIf(addressEntry, $"node address {address} {mixed}");
                else if (vip is not null && address.Equals(vip)) nodeOk = r.ReportIf(addressEntry, $"node address {address} is the service's VIP");
                else if (addresses.TryGetValue(address, out var first))
                    nodeOk = r.ReportIf(addressEntry, $"node address {address} is used twice (first at line {first})");
                else addresses[address] = ConfigReader.LineOf(addressEntry.Value);
            }
            else nodeOk = false;

            var weight = BackendConfig.DefaultWeight;
            if (entries.TryGetValue("weight", out var weightEntry))
            {
                if (r.TryInt(weightEntry, ConfigLimits.MinWeight, ConfigLimits.MaxWeight, out var value)) weight = value;
                else nodeOk = false;
            }

            if (!nodeOk)
            {
                ok = false;
                continue;
            }
            nodes.Add(new ClusterNodeConfig { Id = id!.Value, Address = address!, Weight = weight, Line = ConfigReader.LineOf(nodeMap) });
        }
        return ok ? nodes : null;
    }
}
