using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration.Yaml;

/// <summary>One key of a mapping as written: the key, the node that spelled it (errors about the key point
/// there) and its value.</summary>
internal readonly record struct YamlEntry(string Key, YamlNode KeyNode, YamlNode Value);

/// <summary>The small YAML reading toolkit every section reader uses, over YamlDotNet's representation model so
/// every error can name the line of the offending key or value. It never throws on bad input: each problem is
/// collected as a <see cref="ConfigError"/> and reading goes on, so all of them are reported. This half reads the
/// document's shape (mappings with their allowed keys, lists, scalars); <c>ConfigReader.Values.cs</c> reads values.</summary>
internal sealed partial class ConfigReader(string source)
{
    public List<ConfigError> Errors { get; } = new();

    public void Error(int line, string message) => Errors.Add(new ConfigError(source, line, message));

    public void Error(YamlNode node, string message) => Error(LineOf(node), message);

    public static int LineOf(YamlNode node) => LineOf(node.Start);

    public static int LineOf(Mark mark) => (int)Math.Clamp(mark.Line, 0, int.MaxValue);

    public static bool IsEmptyValue(YamlNode value) =>
        value is YamlScalarNode { Value: null or "" or "false" or "False" or "FALSE" };

    /// <summary>The mapping's entries by key; reports keys that are not plain strings, merge keys, unknown keys
    /// and (defensively) repeated keys.</summary>
    /// <summary>The line of each key read from a mapping.</summary>
    public static IReadOnlyDictionary<string, int> KeyLines(Dictionary<string, YamlEntry> entries) =>
        entries.ToDictionary(e => e.Key, e => LineOf(e.Value.KeyNode), StringComparer.Ordinal);

    public Dictionary<string, YamlEntry> Entries(YamlMappingNode map, string[] allowed)
    {
        var result = new Dictionary<string, YamlEntry>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in map.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
            {
                Error(keyNode, "keys must be plain names, not lists or mappings");
                continue;
            }
            if (key == "<<")
            {
                // YAML 1.1's merge key; the representation model keeps it as a plain key.
                Error(keyNode, "merge keys ('<<') are not supported; alias the whole mapping instead (e.g. health: *hc)");
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
            result[key] = new YamlEntry(key, keyNode, value);
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
    public YamlEntry? Required(YamlNode owner, Dictionary<string, YamlEntry> entries, string key)
    {
        if (entries.TryGetValue(key, out var entry)) return entry;
        Error(owner, $"missing required key '{key}'");
        return null;
    }

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } s && s.Value is null or "" or "~" or "null" or "Null" or "NULL";

    /// <summary>The entry's value as a scalar string; reports nulls and lists/mappings.</summary>
    public bool TryScalar(YamlEntry entry, out string value)
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

    public bool TrySequence(YamlEntry entry, out YamlSequenceNode sequence)
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

    public bool TryMapping(YamlEntry entry, out YamlMappingNode mapping)
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
    public bool ReportIf(YamlEntry entry, string message)
    {
        Error(entry.Value, message);
        return false;
    }
}
