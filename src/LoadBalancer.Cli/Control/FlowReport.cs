using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting;

namespace LoadBalancer.Cli.Control;

/// <summary>The control socket's <c>flow SERVICE IP:PORT</c> and <c>flows SERVICE [backend NAME] [limit N]</c>
/// (<see cref="FlowLookup"/>, read-only) as JSON, and that JSON as <c>lb flow</c> and <c>lb flows</c> print it.</summary>
internal static class FlowReport
{
    public const int DefaultLimit = 1000;
    public const string FlowUsage = "usage: flow SERVICE CLIENT_IP:PORT";
    public const string FlowsUsage = "usage: flows SERVICE [backend NAME] [limit N]";

    /// <summary>The answer to <c>flow</c>: {"backend","source","slot","worker","state","idle_ms"}, or null and why not.</summary>
    public static string? Flow(Engine engine, string[] args, out string? error)
    {
        error = null;
        if (args.Length != 2) return Fail(FlowUsage, out error);
        var snapshot = engine.State.Current;
        if (!TryParseClient(args[1], out var address, out var port)) return Fail($"bad client address '{args[1]}': IPv4:PORT or [IPv6]:PORT expected", out error);
        if (snapshot.Services.FirstOrDefault(s => s.Name == args[0]) is not { } service) return Fail($"no service {args[0]}", out error);
        var ipv6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        if (ipv6 != service.IsIpv6)
            return Fail($"service {service.Name} is {(service.IsIpv6 ? "IPv6" : "IPv4")}: its clients are {(service.IsIpv6 ? "[IPv6]:PORT" : "IPv4:PORT")}", out error);
        var a = ipv6 ? FlowLookup.Find6(engine, snapshot, service, Ipv6.ToUInt128(address), port) : FlowLookup.Find(engine, snapshot, service, Ipv4.ToUInt32(address), port);
        return Write(w =>
        {
            w.WriteStartObject();
            WriteNullable(w, "backend", a.Backend);
            w.WriteString("source", FlowAnswer.SourceName(a.Source));
            if (a.Slot is { } slot) w.WriteNumber("slot", slot);
            else w.WriteNull("slot");
            w.WriteNumber("worker", a.Worker);
            WriteNullable(w, "state", a.State);
            if (a.IdleMs is { } idle) w.WriteNumber("idle_ms", idle);
            else w.WriteNull("idle_ms");
            w.WriteEndObject();
        });
    }

    /// <summary>The answer to <c>flows</c>: {"service","total","limit","flows":[{"client","backend","state","idle_ms","worker"}]}.</summary>
    public static string? Flows(Engine engine, string[] args, out string? error)
    {
        error = null;
        if (args.Length is not (1 or 3 or 5)) return Fail(FlowsUsage, out error);
        string? backend = null;
        var limit = DefaultLimit;
        for (var i = 1; i < args.Length; i += 2)
        {
            if (args[i] == "backend") backend = args[i + 1];
            else if (args[i] != "limit" || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1)
                return Fail(args[i] == "limit" ? $"limit must be a positive number, got '{args[i + 1]}'" : FlowsUsage, out error);
        }
        if (engine.State.Current.Services.FirstOrDefault(s => s.Name == args[0]) is not { } service) return Fail($"no service {args[0]}", out error);
        if (backend is not null && engine.Backends.Get(service.Name, backend) is null) return Fail($"no backend {backend} in service {service.Name}", out error);
        var rows = FlowLookup.List(engine, service, backend, limit, out var total);
        return Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("service", service.Name);
            w.WriteNumber("total", total);
            w.WriteNumber("limit", limit);
            w.WriteStartArray("flows");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteString("client", r.Client);
                w.WriteString("backend", r.Backend);
                w.WriteString("state", r.State);
                w.WriteNumber("idle_ms", r.IdleMs);
                w.WriteNumber("worker", r.Worker);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary><c>lb flow</c>'s text: the first line <c>BACKEND (flow|maglev slot N|backup|none) worker W</c>, then,
    /// for a flow in a table, its state and idle time.</summary>
    public static string FlowText(string json)
    {
        var a = JsonDocument.Parse(json).RootElement;
        var source = a.GetProperty("source").GetString();
        var why = source == "maglev" ? $"maglev slot {a.GetProperty("slot").GetInt32()}" : source;
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"{a.GetProperty("backend").GetString() ?? "-"} ({why}) worker {a.GetProperty("worker").GetInt32()}"));
        if (a.GetProperty("state").GetString() is { } state)
            text.Append(CultureInfo.InvariantCulture, $"\nstate {state}, idle {a.GetProperty("idle_ms").GetInt64()} ms");
        return text.ToString();
    }

    /// <summary><c>lb flows --json</c>: the list alone.</summary>
    public static string FlowsJson(string json) => JsonDocument.Parse(json).RootElement.GetProperty("flows").GetRawText();

    /// <summary><c>lb flows</c>' text, one flow a line as <c>ipvsadm -Lnc</c> lists connections, and a last line
    /// when the limit cut the list short.</summary>
    public static string FlowsText(string json)
    {
        var doc = JsonDocument.Parse(json).RootElement;
        var flows = doc.GetProperty("flows");
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{"CLIENT",-22} {"BACKEND",-16} {"STATE",-12} {"IDLE_MS",10} WORKER");
        foreach (var f in flows.EnumerateArray())
            text.Append(CultureInfo.InvariantCulture,
                $"\n{f.GetProperty("client").GetString(),-22} {f.GetProperty("backend").GetString(),-16} {f.GetProperty("state").GetString(),-12} {f.GetProperty("idle_ms").GetInt64(),10} {f.GetProperty("worker").GetInt32()}");
        var total = doc.GetProperty("total").GetInt32();
        if (total > flows.GetArrayLength())
            text.Append(CultureInfo.InvariantCulture, $"\n... {flows.GetArrayLength()} of {total} flows shown (--limit {doc.GetProperty("limit").GetInt32()}); --limit N shows more");
        return text.ToString();
    }

    /// <summary>IPv4:PORT, or [IPv6]:PORT (brackets required, as in a URL: an IPv6 address has colons of its own).</summary>
    private static bool TryParseClient(string text, out IPAddress address, out ushort port)
    {
        address = IPAddress.None;
        port = 0;
        var colon = text.LastIndexOf(':');
        if (colon < 0 || !ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port)) return false;
        var host = text.AsSpan(0, colon);
        var bracketed = host.Length > 2 && host[0] == '[' && host[^1] == ']';
        if (bracketed) host = host[1..^1];
        if (!IPAddress.TryParse(host, out var ip) || (ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.ScopeId != 0)) return false;
        if (bracketed != (ip.AddressFamily == AddressFamily.InterNetworkV6)) return false;
        address = ip;
        return true;
    }

    private static string? Fail(string why, out string? error)
    {
        error = why;
        return null;
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteString(name, value);
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream)) body(w);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
