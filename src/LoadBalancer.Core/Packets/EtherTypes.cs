namespace LoadBalancer.Core.Packets;

public static class EtherTypes
{
    public const ushort Ipv4 = 0x0800;
    public const ushort Arp = 0x0806;
    public const ushort Vlan = 0x8100;
    public const ushort Ipv6 = 0x86DD;
}

public static class IpProtocols
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Icmpv6 = 58;
}
