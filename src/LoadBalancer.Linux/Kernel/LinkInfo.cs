using System.Buffers.Binary;
using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Kernel;

/// <summary>What the engine needs to know about an interface: index, MAC, MTU and its IPv4 address
/// (the sender address of our ARP requests; 0 when it has none).</summary>
public sealed record LinkInfo(string Name, int IfIndex, MacAddress Mac, int Mtu, uint Ipv4Address)
{
    public static LinkInfo Read(string name)
    {
        var ifIndex = (int)LibC.if_nametoindex(name);
        if (ifIndex == 0) throw new InvalidOperationException($"interface {name} does not exist");
        var sys = Path.Combine("/sys/class/net", name);
        var mac = MacAddress.Parse(File.ReadAllText(Path.Combine(sys, "address")).Trim());
        var mtu = int.Parse(File.ReadAllText(Path.Combine(sys, "mtu")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        return new LinkInfo(name, ifIndex, mac, mtu, ReadIpv4Address(name));
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
