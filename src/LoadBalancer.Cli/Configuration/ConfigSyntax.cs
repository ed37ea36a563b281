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

    /// <summary>Why an IPv4 address cannot be a VIP or backend address, or null if it can.</summary>
    public static string? UnusableAddressReason(IPAddress address)
    {
        var b = address.GetAddressBytes();
        if (b.All(x => x == 0)) return "is the unspecified address";
        if (b.All(x => x == 255)) return "is the broadcast address";
        if (b[0] == 127) return "is a loopback address";
        if (b[0] >= 224 && b[0] <= 239) return "is a multicast address";
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

    /// <summary>Names of services and backends: [A-Za-z0-9_.-]+.</summary>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name)) return false;
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-')) return false;
        return true;
    }
}
