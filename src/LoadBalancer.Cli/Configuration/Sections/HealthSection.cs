using System.Globalization;
using System.Text;
using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration.Sections;

/// <summary>A service's <c>health:</c> section.</summary>
internal sealed class HealthSection(ConfigReader r)
{
    private static readonly string[] Keys = ["type", "port", "request", "host", "expect", "soft_stop", "payload", "reply", "command", "user",
                                             "verify_tls", "interval", "timeout", "rise", "fall", "initial"];

    /// <summary>Health keys that fit only some check types. Every other key but 'type' fits every type
    /// except none; a key that does not fit the type is an error, so a misplaced key never passes silently.</summary>
    private static readonly Dictionary<string, HealthCheckType[]> TypeSpecificKeys = new(StringComparer.Ordinal)
    {
        ["request"] = [HealthCheckType.Http, HealthCheckType.Https],
        ["host"] = [HealthCheckType.Http, HealthCheckType.Https],
        ["expect"] = [HealthCheckType.Http, HealthCheckType.Https],
        ["soft_stop"] = [HealthCheckType.Http, HealthCheckType.Https],
        ["verify_tls"] = [HealthCheckType.Https],
        ["payload"] = [HealthCheckType.Udp],
        ["reply"] = [HealthCheckType.Udp],
        ["command"] = [HealthCheckType.Exec],
        ["user"] = [HealthCheckType.Exec],
    };

    /// <summary>The two healths a backend may start in (<c>initial</c>), in the order error messages list them.</summary>
    private static readonly (string Name, BackendHealth Value)[] InitialChoices =
        [("unknown", BackendHealth.Unknown), ("healthy", BackendHealth.Healthy)];

    /// <summary>A service's <c>health:</c> mapping. 'type' is required; keys that do not fit the type
    /// are reported (and their values not read) unless they are left empty; with no usable type every
    /// value is still checked.</summary>
    public HealthCheckConfig? Read(YamlEntry healthEntry)
    {
        if (!r.TryMapping(healthEntry, out var map)) return null;
        var entries = r.Entries(map, Keys);
        var ok = true;
        var health = new HealthCheckConfig { Line = ConfigReader.LineOf(healthEntry.KeyNode) };

        HealthCheckType? type = null;
        if (r.Required(healthEntry.KeyNode, entries, "type") is { } typeEntry)
        {
            if (r.TryChoice(typeEntry, ModeNames.HealthCheckTypes, out var value)) type = value;
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
                if (ConfigReader.IsEmptyValue(misplaced.Value))
                {
                    entries.Remove(misplaced.Key);
                    continue;
                }
                r.Error(misplaced.KeyNode, TypeSpecificKeys.TryGetValue(misplaced.Key, out var types)
                    ? $"'{misplaced.Key}' applies only to {string.Join('/', types.Select(ModeNames.Name))} checks"
                    : $"'{misplaced.Key}' does not apply when type is none");
                entries.Remove(misplaced.Key);
                ok = false;
            }
        }

        ok &= r.OptionalInt(entries, "port", 1, 65535, value => health = health with { Port = value });
        if (entries.TryGetValue("request", out var requestEntry))
        {
            if (!r.TryScalar(requestEntry, out var text)) ok = false;
            else if (ConfigSyntax.IsValidHttpRequestLine(text)) health = health with { Request = text };
            else ok = r.ReportIf(requestEntry, $"request must look like 'METHOD /path HTTP/1.x', e.g. 'GET /health HTTP/1.1' (got {ConfigReader.Quoted(text)})");
        }
        if (entries.TryGetValue("host", out var hostEntry))
        {
            if (!r.TryScalar(hostEntry, out var text)) ok = false;
            else if (ConfigSyntax.IsValidHostHeader(text)) health = health with { Host = text };
            else ok = r.ReportIf(hostEntry, $"host must be a host name without whitespace or control characters (got {ConfigReader.Quoted(text)})");
        }
        ok &= ConfigReader.Optional(entries, "expect", ReadExpect, ranges => health = health with { Expect = ranges });
        if (entries.TryGetValue("soft_stop", out var softStopEntry))
        {
            if (softStopEntry.Value is YamlScalarNode { Value: "none" }) health = health with { SoftStopStatus = null };
            else if (r.TryInt(softStopEntry, 100, 599, out var status)) health = health with { SoftStopStatus = status };
            else ok = false;
        }
        if (entries.TryGetValue("payload", out var payloadEntry))
        {
            if (!r.TryScalar(payloadEntry, out var text)) ok = false;
            else if (Encoding.UTF8.GetByteCount(text) is var bytes && bytes > ConfigLimits.MaxUdpPayloadBytes)
                ok = r.ReportIf(payloadEntry, $"payload is {bytes} bytes; a UDP datagram can carry at most {ConfigLimits.MaxUdpPayloadBytes}");
            else health = health with { Payload = text };
        }
        if (entries.TryGetValue("reply", out var replyEntry))
        {
            if (r.TryScalar(replyEntry, out var text)) health = health with { Reply = text };
            else ok = false;
        }
        if (entries.TryGetValue("command", out var commandEntry))
        {
            if (!r.TryScalar(commandEntry, out var text)) ok = false;
            else if (string.IsNullOrWhiteSpace(text)) ok = r.ReportIf(commandEntry, "command must not be empty");
            else if (text.Contains('\0')) ok = r.ReportIf(commandEntry, "command must not contain NUL characters");
            else health = health with { Command = text };
        }
        else if (type == HealthCheckType.Exec)
        {
            r.Error(healthEntry.KeyNode, "missing required key 'command' (type exec runs it)");
            ok = false;
        }
        if (entries.TryGetValue("user", out var userEntry))
        {
            // Resolved now, so that lb check reports a user that does not exist, and the checker needs no lookup.
            if (!r.TryScalar(userEntry, out var name)) ok = false;
            else if (UserDatabase.Find(name, out var user) is { } problem) ok = r.ReportIf(userEntry, problem);
            else health = health with { User = user, UserLine = ConfigReader.LineOf(userEntry.KeyNode) };
        }
        ok &= r.OptionalBool(entries, "verify_tls", value => health = health with { VerifyCertificate = value });

        var durationsOk = true;
        var hasInterval = entries.TryGetValue("interval", out var intervalEntry);
        if (hasInterval)
        {
            if (r.TryDuration(intervalEntry, out var value)) health = health with { Interval = value };
            else ok = durationsOk = false;
        }
        var hasTimeout = entries.TryGetValue("timeout", out var timeoutEntry);
        if (hasTimeout)
        {
            if (r.TryDuration(timeoutEntry, out var value)) health = health with { Timeout = value };
            else ok = durationsOk = false;
        }
        if (durationsOk && health.Timeout > health.Interval)
        {
            var timeout = ConfigSyntax.FormatDuration(health.Timeout);
            var interval = ConfigSyntax.FormatDuration(health.Interval);
            ok = hasTimeout
                ? r.ReportIf(timeoutEntry, $"timeout {timeout} must not be longer than the interval ({interval}{(hasInterval ? "" : ", the default")})")
                : r.ReportIf(intervalEntry, $"interval {interval} is shorter than the default timeout ({timeout}); set a timeout no longer than the interval");
        }

        ok &= r.OptionalInt(entries, "rise", ConfigLimits.MinRiseFall, ConfigLimits.MaxRiseFall, value => health = health with { Rise = value });
        ok &= r.OptionalInt(entries, "fall", ConfigLimits.MinRiseFall, ConfigLimits.MaxRiseFall, value => health = health with { Fall = value });
        ok &= r.OptionalChoice(entries, "initial", InitialChoices, value => health = health with { Initial = value });

        return ok ? health : null;

        static bool Fits(string key, HealthCheckType type) =>
            TypeSpecificKeys.TryGetValue(key, out var types) ? types.Contains(type) : type != HealthCheckType.None;
    }

    /// <summary>The http/https <c>expect:</c> value: "200", "200-299,301", or a list of such items.
    /// Every bad item is reported, each at its own line.</summary>
    private List<StatusRange>? ReadExpect(YamlEntry entry)
    {
        var ranges = new List<StatusRange>();
        if (entry.Value is not YamlSequenceNode sequence)
            return r.TryScalar(entry, out var text) && AddStatusRanges(entry.Value, text, ranges) ? ranges : null;

        if (sequence.Children.Count == 0)
        {
            r.Error(entry.Value, "expect must list at least one status code or range");
            return null;
        }
        var ok = true;
        foreach (var item in sequence.Children)
        {
            if (item is YamlScalarNode { Value: { } text } && !ConfigReader.IsNull(item)) ok &= AddStatusRanges(item, text, ranges);
            else
            {
                r.Error(item, "each expect item must be a status code like 200 or a range like 200-299");
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
                r.Error(node, problem);
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
            return $"expect item {ConfigReader.Quoted(item)} must be a status code like 200 or a range like 200-299";
        foreach (var code in dash < 0 ? [from] : new[] { from, to })
            if (code.Length > 3 || int.Parse(code, CultureInfo.InvariantCulture) is < 100 or > 599)
                return $"expect status {code} is not an HTTP status code (100 to 599)";
        var (low, high) = (int.Parse(from, CultureInfo.InvariantCulture), int.Parse(to, CultureInfo.InvariantCulture));
        if (low > high) return $"expect range {low}-{high} is backwards (write {high}-{low})";
        range = new StatusRange(low, high);
        return null;

        static bool IsDigits(string s) => s.Length > 0 && !s.AsSpan().ContainsAnyExceptInRange('0', '9');
    }
}
