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
/// (<see cref="Ipv6"/>), held as 64-bit halves: <see cref="UInt128"/> is 16-byte aligned, which would pad the key to
/// 64 bytes and a flow-table slot to 96; as halves the key is 40 bytes and a slot one 64-byte cache line.</summary>
public readonly struct FlowKey6 : IEquatable<FlowKey6>
{
    private readonly ulong _sourceHigh, _sourceLow, _destinationHigh, _destinationLow;
    public readonly ushort SourcePort;
    public readonly ushort DestinationPort;
    public readonly byte Protocol;

    public FlowKey6(byte protocol, UInt128 sourceAddress, UInt128 destinationAddress, ushort sourcePort, ushort destinationPort)
    {
        _sourceHigh = (ulong)(sourceAddress >> 64);
        _sourceLow = (ulong)sourceAddress;
        _destinationHigh = (ulong)(destinationAddress >> 64);
        _destinationLow = (ulong)destinationAddress;
        SourcePort = sourcePort;
        DestinationPort = destinationPort;
        Protocol = protocol;
    }

    public UInt128 SourceAddress => new(_sourceHigh, _sourceLow);
    public UInt128 DestinationAddress => new(_destinationHigh, _destinationLow);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(FlowKey6 other) =>
        _sourceLow == other._sourceLow && _sourceHigh == other._sourceHigh && _destinationLow == other._destinationLow
        && _destinationHigh == other._destinationHigh && SourcePort == other.SourcePort && DestinationPort == other.DestinationPort
        && Protocol == other.Protocol;

    public override bool Equals(object? obj) => obj is FlowKey6 other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_sourceHigh, _sourceLow, _destinationHigh, _destinationLow, SourcePort, DestinationPort, Protocol);
    public static bool operator ==(FlowKey6 a, FlowKey6 b) => a.Equals(b);
    public static bool operator !=(FlowKey6 a, FlowKey6 b) => !a.Equals(b);

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
