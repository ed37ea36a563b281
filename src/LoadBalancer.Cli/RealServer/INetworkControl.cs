using System.Net;

namespace LoadBalancer.Cli.RealServer;

/// <summary>An address with its prefix length as configured on an interface, e.g. 10.99.0.100/32 or
/// 2001:db8::100/128.</summary>
public readonly record struct InterfaceAddress(IPAddress Address, int PrefixLength)
{
    /// <summary>The address alone: /32 for IPv4, /128 for IPv6.</summary>
    public static InterfaceAddress Host(IPAddress address) => new(address, IsIpv6Address(address) ? 128 : 32);

    public bool IsIpv6 => IsIpv6Address(Address);

    public bool IsHost => PrefixLength == (IsIpv6 ? 128 : 32);

    private static bool IsIpv6Address(IPAddress address) => address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    public override string ToString() => $"{Address}/{PrefixLength}";
}

/// <summary>The little piece of the host's network configuration that <c>lb realserver</c> touches.
/// Implementations throw <see cref="NetworkControlException"/> when an operation fails.</summary>
public interface INetworkControl
{
    /// <summary>Reads a sysctl by its sysctl(8) name (e.g. <c>net.ipv4.conf.all.arp_ignore</c>, with dots in
    /// an interface name written as '/'), trimmed; null if it does not exist.</summary>
    string? ReadSysctl(string name);

    void WriteSysctl(string name, string value);

    /// <summary>The entries of net.ipv4.conf: every interface with IPv4 config, plus <c>all</c> and
    /// <c>default</c>.</summary>
    IReadOnlyList<string> ListInterfaces();

    /// <summary>The IPv4 and IPv6 addresses on <paramref name="device"/>; throws if the device does not exist.</summary>
    IReadOnlyList<InterfaceAddress> ListAddresses(string device);

    /// <summary>Adds the address; an IPv6 one without duplicate address detection (it is a VIP that other hosts
    /// hold too: DAD would find them, or at least delay it until it was done).</summary>
    void AddAddress(string device, InterfaceAddress address);

    void RemoveAddress(string device, InterfaceAddress address);
}

public sealed class NetworkControlException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>sysctl(8) naming: components are separated by '.', and a '.' inside a component (an
/// interface called eth0.100) is written '/'.</summary>
public static class SysctlNames
{
    public static string Ipv4Conf(string interfaceName, string setting) =>
        $"net.ipv4.conf.{interfaceName.Replace('.', '/')}.{setting}";

    public static string Ipv6Conf(string interfaceName, string setting) =>
        $"net.ipv6.conf.{interfaceName.Replace('.', '/')}.{setting}";

    /// <summary>The path below /proc/sys for a sysctl name; throws for names that could escape it.</summary>
    public static string ToRelativePath(string name)
    {
        var parts = name.Split('.');
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i].Replace('/', '.');
            if (part.Length == 0 || part is "." or ".." || part.Contains('\0'))
                throw new ArgumentException($"'{name}' is not a valid sysctl name", nameof(name));
            parts[i] = part;
        }
        return string.Join('/', parts);
    }
}
