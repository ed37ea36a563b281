using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LoadBalancer.Cli.Configuration;

/// <summary>Strict parsers for the value syntaxes the CLI accepts (shared by the config loader and the
/// realserver commands).</summary>
internal static class ConfigSyntax
{
    /// <summary>Dotted-quad IPv4 only: exactly four decimal parts, no leading zeros (so "010.0.0.1" is not
    /// silently read as octal or decimal), unlike <see cref="IPAddress.TryParse(string?, out IPAddress?)"/>
    /// which also accepts "10.1" or "167772161".</summary>
    public static bool TryParseIpv4(string? text, out IPAddress address)
    {
        address = IPAddress.None;
        if (string.IsNullOrEmpty(text)) return false;
        var parts = text.Split('.');
        if (parts.Length != 4) return false;
        Span<byte> bytes = stackalloc byte[4];
        for (var i = 0; i < 4; i++)
        {
            var p = parts[i];
            if (p.Length is < 1 or > 3 || (p.Length > 1 && p[0] == '0')) return false;
            foreach (var c in p)
                if (c is < '0' or > '9') return false;
            var v = int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture);
            if (v > 255) return false;
            bytes[i] = (byte)v;
        }
        address = new IPAddress(bytes);
        return true;
    }

    public static bool LooksLikeIpv6(string? text) =>
        text is not null && text.Contains(':') && IPAddress.TryParse(text, out var a) && a.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>An IPv4 address as <see cref="TryParseIpv4"/> reads it, or an IPv6 address in its textual forms
    /// (RFC 4291: hex groups, one "::", a dotted IPv4 tail), canonical once parsed. Nothing else
    /// <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> would take: no brackets, no port, no scope id
    /// (<see cref="HasScopeId"/> tells that one apart, to say so).</summary>
    public static bool TryParseAddress(string? text, out IPAddress address)
    {
        if (TryParseIpv4(text, out address)) return true;
        if (string.IsNullOrEmpty(text) || !text.Contains(':') || text.AsSpan().ContainsAnyExcept(Ipv6Characters)) return false;
        if (!IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6) return false;
        address = parsed;
        return true;
    }

    private static readonly System.Buffers.SearchValues<char> Ipv6Characters =
        System.Buffers.SearchValues.Create("0123456789abcdefABCDEF:.");

    /// <summary>An IPv6 address with a zone ("fe80::1%eth0"): the zone names a link of one host, no
    /// address of a service.</summary>
    public static bool HasScopeId(string? text) =>
        text is not null && text.IndexOf('%') is > 0 and var at && IPAddress.TryParse(text.AsSpan(0, at), out var a)
        && a.AddressFamily == AddressFamily.InterNetworkV6;

    public static bool IsIpv6(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>Why <paramref name="address"/> cannot serve beside <paramref name="vip"/>, or null if it can: a
    /// service is of one family, its VIP's (the data path never translates between IPv4 and IPv6).</summary>
    public static string? MixedFamilyReason(IPAddress address, IPAddress? vip) =>
        vip is null || address.AddressFamily == vip.AddressFamily
            ? null
            : $"is {FamilyName(address)} but the service's VIP {vip} is {FamilyName(vip)} (a service's VIP, backends, gateway and nodes must be of one family)";

    private static string FamilyName(IPAddress address) => IsIpv6(address) ? "IPv6" : "IPv4";

    /// <summary>Why an address cannot be a VIP, backend, gateway or node address, or null if it can.</summary>
    public static string? UnusableAddressReason(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? UnusableIpv6Reason(address) : UnusableIpv4Reason(address);

    private static string? UnusableIpv4Reason(IPAddress address)
    {
        var b = address.GetAddressBytes();
        if (b.All(x => x == 0)) return "is the unspecified address";
        if (b.All(x => x == 255)) return "is the broadcast address";
        if (b[0] == 127) return "is a loopback address";
        if (b[0] >= 224 && b[0] <= 239) return "is a multicast address";
        return null;
    }

    private static string? UnusableIpv6Reason(IPAddress address)
    {
        if (address.Equals(IPAddress.IPv6None)) return "is the unspecified address";
        if (address.Equals(IPAddress.IPv6Loopback)) return "is the loopback address";
        if (address.IsIPv6Multicast) return "is a multicast address";
        // Link-local (fe80::/10) addresses are only meaningful with the link's zone, which a config cannot carry.
        if (address.IsIPv6LinkLocal) return "is a link-local address (fe80::/10); use a global or unique local (fd00::/8) address";
        // The data path sees mapped addresses only as IPv4 frames: the IPv4 form is the one that works.
        if (address.IsIPv4MappedToIPv6) return $"is an IPv4-mapped IPv6 address; write it as IPv4 ({address.MapToIPv4()})";
        // ::a.b.c.d, deprecated by RFC 4291 and routed nowhere.
        if (address.GetAddressBytes().AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0)
            return "is an IPv4-compatible IPv6 address (::/96, deprecated); use the IPv4 address or a real IPv6 one";
        return null;
    }

    /// <summary>Linux interface name rules (the kernel's dev_valid_name): 1..15 bytes, not "." or "..",
    /// no '/', ':' or whitespace (control characters are refused too).</summary>
    public static bool IsValidInterfaceName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name is "." or "..") return false;
        foreach (var c in name)
            if (c is '/' or ':' || char.IsWhiteSpace(c) || char.IsControl(c)) return false;
        return System.Text.Encoding.UTF8.GetByteCount(name) <= 15;
    }

    /// <summary>A duration: a decimal number and a unit, <c>ms</c>, <c>s</c>, <c>m</c> or <c>h</c>
    /// ("500ms", "1.5s", "2m"), or a bare integer meaning seconds ("3"). No sign, exponent, spaces or other
    /// units. Precision below a tick (100 ns) is dropped; a value too large for a <see cref="TimeSpan"/>
    /// becomes <see cref="TimeSpan.MaxValue"/> so the caller's range check reports it.</summary>
    public static bool TryParseDuration(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text)) return false;
        var unitStart = text.Length;
        while (unitStart > 0 && char.IsAsciiLetter(text[unitStart - 1])) unitStart--;
        var number = text.AsSpan(0, unitStart);
        long ticksPerUnit = text.AsSpan(unitStart) switch
        {
            "ms" => TimeSpan.TicksPerMillisecond,
            "s" or "" => TimeSpan.TicksPerSecond,
            "m" => TimeSpan.TicksPerMinute,
            "h" => TimeSpan.TicksPerHour,
            _ => 0,
        };
        if (ticksPerUnit == 0) return false;

        var dot = number.IndexOf('.');
        var whole = dot < 0 ? number : number[..dot];
        var fraction = dot < 0 ? ReadOnlySpan<char>.Empty : number[(dot + 1)..];
        if (whole.IsEmpty || whole.ContainsAnyExceptInRange('0', '9')) return false;
        if (dot >= 0 && (fraction.IsEmpty || fraction.ContainsAnyExceptInRange('0', '9'))) return false;
        if (dot >= 0 && unitStart == text.Length) return false; // a bare number must be whole seconds

        // The syntax is checked above, so a failed parse can only be an overflow.
        if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            || value > (decimal)TimeSpan.MaxValue.Ticks / ticksPerUnit)
        {
            duration = TimeSpan.MaxValue;
            return true;
        }
        duration = TimeSpan.FromTicks((long)decimal.Truncate(value * ticksPerUnit));
        return true;
    }

    /// <summary>A duration the way <see cref="TryParseDuration"/> reads it back: "500ms", "1.5s", "2m", "1h".</summary>
    public static string FormatDuration(TimeSpan duration)
    {
        if (duration.Ticks % TimeSpan.TicksPerHour == 0 && duration >= TimeSpan.FromHours(1))
            return $"{duration.Ticks / TimeSpan.TicksPerHour}h";
        if (duration.Ticks % TimeSpan.TicksPerMinute == 0 && duration >= TimeSpan.FromMinutes(1))
            return $"{duration.Ticks / TimeSpan.TicksPerMinute}m";
        if (duration >= TimeSpan.FromSeconds(1))
            return ((decimal)duration.Ticks / TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture) + "s";
        return ((decimal)duration.Ticks / TimeSpan.TicksPerMillisecond).ToString(CultureInfo.InvariantCulture) + "ms";
    }

    /// <summary>An HTTP/1.x request line: <c>METHOD TARGET VERSION</c> separated by single spaces, the
    /// method upper-case letters, the target "*" or starting with '/' (visible ASCII only), the version
    /// HTTP/1.0 or HTTP/1.1.</summary>
    public static bool IsValidHttpRequestLine(string? text)
    {
        if (string.IsNullOrEmpty(text)) return false;
        var parts = text.Split(' ');
        if (parts.Length != 3) return false;
        var (method, target, version) = (parts[0], parts[1], parts[2]);
        if (method.Length == 0 || method.AsSpan().ContainsAnyExceptInRange('A', 'Z')) return false;
        if (target != "*" && !target.StartsWith('/')) return false;
        if (target.AsSpan().ContainsAnyExceptInRange('!', '~')) return false;
        return version is "HTTP/1.0" or "HTTP/1.1";
    }

    /// <summary>A Host header value: not empty, no whitespace or control characters.</summary>
    public static bool IsValidHostHeader(string? text) =>
        !string.IsNullOrEmpty(text) && !text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));

    /// <summary>Names of services and backends: [A-Za-z0-9_.-]+.</summary>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name)) return false;
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-')) return false;
        return true;
    }
}
