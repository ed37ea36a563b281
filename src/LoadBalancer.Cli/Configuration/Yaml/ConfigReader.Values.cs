using System.Globalization;
using System.Net;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration.Yaml;

/// <summary>The value half of the toolkit: optional keys, integers in a range, one of a set of words, booleans,
/// durations, names, interface names and addresses, each reported at the value's line when it is not one.</summary>
internal sealed partial class ConfigReader
{
    public delegate bool TryRead<T>(YamlEntry entry, out T value);

    /// <summary>An optional key: absent leaves the default alone; present and valid hands the value to
    /// <paramref name="use"/>; present and invalid (reported by the reader) returns false.</summary>
    public static bool Optional<T>(Dictionary<string, YamlEntry> entries, string key, TryRead<T> read, Action<T> use)
    {
        if (!entries.TryGetValue(key, out var entry)) return true;
        if (!read(entry, out var value)) return false;
        use(value);
        return true;
    }

    /// <summary>An optional key read by a reader that returns null for an invalid value.</summary>
    public static bool Optional<T>(Dictionary<string, YamlEntry> entries, string key, Func<YamlEntry, T?> read, Action<T> use) where T : class =>
        Optional(entries, key, (YamlEntry e, out T v) => (v = read(e)!) is not null, use);

    public bool OptionalInt(Dictionary<string, YamlEntry> entries, string key, int min, int max, Action<int> use) =>
        Optional(entries, key, (YamlEntry e, out int v) => TryInt(e, min, max, out v), use);

    public bool OptionalBool(Dictionary<string, YamlEntry> entries, string key, Action<bool> use) => Optional<bool>(entries, key, TryBool, use);

    public bool OptionalDuration(Dictionary<string, YamlEntry> entries, string key, TimeSpan max, Action<TimeSpan> use) =>
        Optional(entries, key, (YamlEntry e, out TimeSpan v) => TryDuration(e, out v, max), use);

    public bool OptionalChoice<T>(Dictionary<string, YamlEntry> entries, string key, (string Name, T Value)[] choices, Action<T> use) =>
        Optional(entries, key, (YamlEntry e, out T v) => TryChoice(e, choices, out v), use);

    public bool TryInt(YamlEntry entry, int min, int max, out int value)
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
    public bool TryChoice<T>(YamlEntry entry, (string Name, T Value)[] choices, out T value)
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
    public bool TryBool(YamlEntry entry, out bool value)
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
    /// <paramref name="max"/> (by default <see cref="ConfigLimits.MaxHealthInterval"/>, the health check limit).</summary>
    public bool TryDuration(YamlEntry entry, out TimeSpan value, TimeSpan? max = null)
    {
        var limit = max ?? ConfigLimits.MaxHealthInterval;
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
    public static string Quoted(string text)
    {
        var builder = new StringBuilder(text.Length + 2).Append('\'');
        foreach (var c in text)
            builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        return builder.Append('\'').ToString();
    }

    /// <summary>Optional sign and decimal digits only (no hex, no exponent, no separators).</summary>
    public static bool IsInteger(string text)
    {
        var digits = text.StartsWith('-') || text.StartsWith('+') ? text.AsSpan(1) : text.AsSpan();
        return digits.Length > 0 && !digits.ContainsAnyExceptInRange('0', '9');
    }

    public string? RequiredName(YamlMappingNode map, Dictionary<string, YamlEntry> entries, string key, string what)
    {
        if (Required(map, entries, key) is not { } entry || !TryScalar(entry, out var text)) return null;
        if (ConfigSyntax.IsValidName(text)) return text;
        ReportIf(entry, $"{what} {key} '{text}' may only contain letters, digits, '_', '.' and '-'");
        return null;
    }

    public string? RequiredInterface(YamlMappingNode map, Dictionary<string, YamlEntry> entries, string key) =>
        Required(map, entries, key) is { } entry ? ReadInterface(entry, key) : null;

    public string? ReadInterface(YamlEntry entry, string key)
    {
        if (!TryScalar(entry, out var text)) return null;
        if (ConfigSyntax.IsValidInterfaceName(text)) return text;
        ReportIf(entry, $"{key} '{text}' is not a valid interface name (1 to 15 characters, no '/', ':' or whitespace)");
        return null;
    }

    /// <summary>An address for a VIP, backend, gateway or node: IPv4, or IPv6 (see
    /// <see cref="ConfigSyntax.TryParseAddress"/>); the family is checked against the service's elsewhere.</summary>
    public IPAddress? ReadAddress(YamlEntry entry, string key)
    {
        if (!TryScalar(entry, out var text)) return null;
        if (ConfigSyntax.TryParseAddress(text, out var address)) return Usable(entry, key, address);
        ReportIf(entry, ConfigSyntax.HasScopeId(text)
            ? $"{key} {Quoted(text)} has a scope id (%...): give the address without it (the interface is the service's)"
            : $"{key} must be an IPv4 address like 10.0.0.1 or an IPv6 address like 2001:db8::1 (got {Quoted(text)})");
        return null;
    }

    /// <summary>An IPv4 address only (what IPv6 does not reach yet: the HA sync peer); <paramref name="plural"/>
    /// names the thing in the "IPv6 ... are not supported yet" message.</summary>
    public IPAddress? ReadIpv4Address(YamlEntry entry, string plural, string key)
    {
        if (!TryScalar(entry, out var text)) return null;
        if (ConfigSyntax.TryParseIpv4(text, out var address)) return Usable(entry, key, address);
        ReportIf(entry, ConfigSyntax.LooksLikeIpv6(text)
            ? $"IPv6 {plural} are not supported yet"
            : $"{key} must be an IPv4 address like 10.0.0.1 (got {Quoted(text)})");
        return null;
    }

    private IPAddress? Usable(YamlEntry entry, string key, IPAddress address)
    {
        if (ConfigSyntax.UnusableAddressReason(address) is not { } reason) return address;
        ReportIf(entry, $"{key} {address} {reason}");
        return null;
    }
}
