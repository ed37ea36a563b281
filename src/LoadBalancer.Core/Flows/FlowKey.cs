using System.Runtime.CompilerServices;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Flows;

/// <summary>The 5-tuple of an IPv4 flow as the client sent it. Addresses are host-order uints.</summary>
public readonly record struct FlowKey(byte Protocol, uint SourceAddress, uint DestinationAddress, ushort SourcePort, ushort DestinationPort)
{
    public override string ToString() =>
        $"{ProtocolName(Protocol)} {Ipv4.Format(SourceAddress)}:{SourcePort} -> {Ipv4.Format(DestinationAddress)}:{DestinationPort}";

    internal static string ProtocolName(byte p) => p switch
    {
        IpProtocols.Tcp => "tcp",
        IpProtocols.Udp => "udp",
        _ => p.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>The 5-tuple of an IPv6 flow as the client sent it. Addresses are host-order <see cref="UInt128"/>s
/// (<see cref="Ipv6"/>).</summary>
public readonly record struct FlowKey6(byte Protocol, UInt128 SourceAddress, UInt128 DestinationAddress, ushort SourcePort, ushort DestinationPort)
{
    public override string ToString() =>
        $"{FlowKey.ProtocolName(Protocol)} [{Ipv6.Format(SourceAddress)}]:{SourcePort} -> [{Ipv6.Format(DestinationAddress)}]:{DestinationPort}";
}

/// <summary>The flow hash every balancer and cluster node computes. For IPv4 it is lookup3 <c>hashword</c> over
/// the four words (source, destination, sourcePort&lt;&lt;16 | destinationPort, protocol); for IPv6 over the ten
/// words (source as four words most significant first, i.e. in wire order, then destination likewise, then
/// sourcePort&lt;&lt;16 | destinationPort, protocol); both seeded with <c>hash_seed</c>, so two machines with the
/// same seed agree bit for bit regardless of endianness or process (no randomised string hashing, no per-process
/// seed).</summary>
public static class FlowHash
{
    public static uint Compute(in FlowKey key, uint seed) =>
        Compute(key.Protocol, key.SourceAddress, key.DestinationAddress, key.SourcePort, key.DestinationPort, seed);

    /// <summary>The same hash from the header fields themselves: the packet path hashes what it just read, in
    /// registers, instead of reading it back from the key it stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Compute(byte protocol, uint sourceAddress, uint destinationAddress, ushort sourcePort, ushort destinationPort, uint seed) =>
        Lookup3.HashWords(sourceAddress, destinationAddress, ((uint)sourcePort << 16) | destinationPort, protocol, seed);

    public static uint Compute6(in FlowKey6 key, uint seed) =>
        Compute6(key.Protocol, key.SourceAddress, key.DestinationAddress, key.SourcePort, key.DestinationPort, seed);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Compute6(byte protocol, UInt128 sourceAddress, UInt128 destinationAddress, ushort sourcePort, ushort destinationPort, uint seed) =>
        Lookup3.HashWords(sourceAddress, destinationAddress, ((uint)sourcePort << 16) | destinationPort, protocol, seed);
}
