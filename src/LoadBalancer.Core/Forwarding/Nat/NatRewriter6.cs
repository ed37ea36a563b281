using System.Buffers.Binary;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>The byte-level rewrites of NAT66, rule for rule those of <see cref="NatRewriter"/> for IPv4:
/// - forward (client → backend): destination address and port become the backend's; reverse (backend →
///   client): source address and port become the VIP's and the service's;
/// - hop limit is decremented (the balancer is a router hop here); a frame arriving with hop limit ≤ 1 is not
///   forwarded. IPv6 has no header checksum, so nothing else in the IP header changes;
/// - the TCP/UDP checksum, whose pseudo-header covers both 128-bit addresses, is updated incrementally (RFC 1624,
///   one 32-bit word of the address at a time), never recomputed; a UDP checksum of 0 (not allowed in IPv6, RFC
///   8200 8.1: the receiver discards it) stays 0, so we pass along exactly what the backend would have refused
///   anyway; an updated one that comes out 0 is sent as 0xFFFF;
/// - a partial checksum (GSO, NEEDS_CSUM) holds only the pseudo-header sum: only address changes go into it;
/// - extension headers and payload are untouched, so header lengths and offsets never move.</summary>
public static class NatRewriter6
{
    public const int HopLimitOffset = 7;
    public const int SourceOffset = 8;
    public const int DestinationOffset = 24;

    /// <summary>Decrements the hop limit; false (and nothing changed) when it is ≤ 1.</summary>
    public static bool DecrementHopLimit(Span<byte> frame, int ipOffset)
    {
        ref var hopLimit = ref frame[ipOffset + HopLimitOffset];
        if (hopLimit <= 1) return false;
        hopLimit--;
        return true;
    }

    public static void RewriteDestination(Span<byte> frame, in PacketHeaders p, UInt128 address, ushort port) =>
        Rewrite(frame, p, DestinationOffset, portOffset: 2, address, port);

    public static void RewriteSource(Span<byte> frame, in PacketHeaders p, UInt128 address, ushort port) =>
        Rewrite(frame, p, SourceOffset, portOffset: 0, address, port);

    private static void Rewrite(Span<byte> frame, in PacketHeaders p, int addressOffset, int portOffset, UInt128 address, ushort port)
    {
        var l4 = frame[p.L4Offset..];
        var oldAddress = SetAddress(frame[p.IpOffset..], addressOffset, address);
        var oldPort = BinaryPrimitives.ReadUInt16BigEndian(l4[portOffset..]);
        BinaryPrimitives.WriteUInt16BigEndian(l4[portOffset..], port);
        var field = l4[(p.Protocol == IpProtocols.Tcp ? TcpSegment.ChecksumOffset : UdpDatagram.ChecksumOffset)..];
        if (p.PartialChecksum)
            BinaryPrimitives.WriteUInt16BigEndian(field, UpdatePartial(BinaryPrimitives.ReadUInt16BigEndian(field), oldAddress, address));
        else
            UpdateL4Checksum(field, p.Protocol, oldAddress, address, oldPort, port);
    }

    /// <summary>Writes an IPv6 address at <paramref name="addressOffset"/> of the header <paramref name="ip"/>;
    /// returns the address it replaced.</summary>
    internal static UInt128 SetAddress(Span<byte> ip, int addressOffset, UInt128 address)
    {
        var old = BinaryPrimitives.ReadUInt128BigEndian(ip[addressOffset..]);
        BinaryPrimitives.WriteUInt128BigEndian(ip[addressOffset..], address);
        return old;
    }

    /// <summary>A full TCP/UDP (or ICMPv6) checksum at <paramref name="field"/>, updated for one address and one port
    /// change. UDP without a checksum (0) stays without one; an updated UDP checksum of 0 is sent as 0xFFFF.</summary>
    internal static void UpdateL4Checksum(Span<byte> field, byte protocol, UInt128 oldAddress, UInt128 address, ushort oldPort, ushort port)
    {
        var old = BinaryPrimitives.ReadUInt16BigEndian(field);
        if (protocol == IpProtocols.Udp && old == 0) return;
        var updated = Checksum.Update(Update(old, oldAddress, address), oldPort, port);
        if (protocol == IpProtocols.Udp && updated == 0) updated = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(field, updated);
    }

    /// <summary>RFC 1624 for a 128-bit field (an IPv6 address in a pseudo-header) changed from old to new.</summary>
    public static ushort Update(ushort checksum, UInt128 oldValue, UInt128 newValue)
    {
        for (var i = 0; i < 4; i++) checksum = Checksum.Update(checksum, Ipv6.Word(oldValue, i), Ipv6.Word(newValue, i));
        return checksum;
    }

    private static ushort UpdatePartial(ushort partial, UInt128 oldValue, UInt128 newValue)
    {
        for (var i = 0; i < 4; i++) partial = Checksum.UpdatePartial(partial, Ipv6.Word(oldValue, i), Ipv6.Word(newValue, i));
        return partial;
    }
}
