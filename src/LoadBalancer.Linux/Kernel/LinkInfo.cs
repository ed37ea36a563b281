using System.Buffers.Binary;
using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Kernel;

/// <summary>What the engine needs to know about an interface: index, MAC, MTU, its IPv4 address (the sender address
/// of our ARP requests; 0 when it has none) and its IPv6 address (the source of our neighbour solicitations: a global
/// one if it has one, else its link-local one; 0 when it has none).</summary>
public sealed record LinkInfo(string Name, int IfIndex, MacAddress Mac, int Mtu, uint Ipv4Address, UInt128 Ipv6Address = default)
{
    public static LinkInfo Read(string name)
    {
        var ifIndex = (int)LibC.if_nametoindex(name);
        if (ifIndex == 0) throw new InvalidOperationException($"interface {name} does not exist");
        var sys = Path.Combine("/sys/class/net", name);
        var mac = MacAddress.Parse(File.ReadAllText(Path.Combine(sys, "address")).Trim());
        var mtu = int.Parse(File.ReadAllText(Path.Combine(sys, "mtu")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var ipv6 = File.Exists(IfInet6) ? ChooseIpv6Address(File.ReadAllText(IfInet6), name) : 0;
        return new LinkInfo(name, ifIndex, mac, mtu, ReadIpv4Address(name), ipv6);
    }

    private const string IfInet6 = "/proc/net/if_inet6";

    // linux/if_addr.h (IFA_F_*) and net/ipv6.h (IPV6_ADDR_* scopes as /proc shows them).
    private const int ScopeGlobal = 0x00;
    private const int ScopeLink = 0x20;
    private const int Tentative = 0x40;
    private const int DadFailed = 0x08;

    /// <summary>From /proc/net/if_inet6 (one address a line: 32 hex digits, ifindex, prefix length, scope, flags,
    /// name, the numbers in hex): the interface's first global address, else its first link-local one, leaving out
    /// addresses still in or failed by duplicate address detection; 0 when none.</summary>
    public static UInt128 ChooseIpv6Address(string ifInet6, string name)
    {
        UInt128 linkLocal = 0;
        foreach (var line in ifInet6.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 6 || f[5] != name || f[0].Length != 32) continue;
            if (!UInt128.TryParse(f[0], System.Globalization.NumberStyles.HexNumber, null, out var address)) continue;
            if (!int.TryParse(f[3], System.Globalization.NumberStyles.HexNumber, null, out var scope)
                || !int.TryParse(f[4], System.Globalization.NumberStyles.HexNumber, null, out var flags)) continue;
            if ((flags & (Tentative | DadFailed)) != 0) continue;
            if (scope == ScopeGlobal) return address;
            if (scope == ScopeLink && linkLocal == 0) linkLocal = address;
        }
        return linkLocal;
    }

    private static unsafe uint ReadIpv4Address(string name)
    {
        var fd = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0) return 0;
        try
        {
            // struct ifreq: char ifr_name[16], then the union; ifr_addr is a sockaddr_in whose
            // address sits at offset 4 of the union (after family and port).
            var ifreq = stackalloc byte[40];
            new Span<byte>(ifreq, 40).Clear();
            var nameBytes = System.Text.Encoding.ASCII.GetBytes(name);
            if (nameBytes.Length > 15) return 0;
            nameBytes.CopyTo(new Span<byte>(ifreq, 16));
            if (LibC.ioctl(fd, LibC.SIOCGIFADDR, ifreq) != 0) return 0;
            return BinaryPrimitives.ReadUInt32BigEndian(new ReadOnlySpan<byte>(ifreq + 20, 4));
        }
        finally
        {
            LibC.close(fd);
        }
    }
}
