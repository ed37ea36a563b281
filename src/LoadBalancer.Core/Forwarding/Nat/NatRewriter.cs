using System.Buffers.Binary;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding.Nat;

/// <summary>The byte-level rewrites of NAT. Rules and invariants:
/// - forward (client → backend): destination address and port become the backend's; reverse (backend →
///   client): source address and port become the VIP's and the service's;
/// - TTL is decremented (the balancer is a router hop here); a frame arriving with TTL ≤ 1 is not forwarded;
/// - the IPv4 header checksum and the TCP/UDP checksum are updated incrementally (RFC 1624), never
///   recomputed; a UDP checksum of 0 (none) stays 0, and an updated one that comes out 0 is sent as 0xFFFF;
/// - a partial checksum (GSO, NEEDS_CSUM) holds only the pseudo-header sum: only address changes go into it;
/// - IP options and payload are untouched, so header lengths and offsets never move.</summary>
public static class NatRewriter
{
    public const int TtlOffset = 8;
    public const int HeaderChecksumOffset = 10;
    public const int SourceOffset = 12;
    public const int DestinationOffset = 16;

    /// <summary>Decrements TTL with its checksum update; false (and nothing changed) when TTL ≤ 1.</summary>
    public static bool DecrementTtl(Span<byte> frame, in PacketHeaders p)
    {
        var ip = frame[p.IpOffset..];
        var ttl = ip[TtlOffset];
        if (ttl <= 1) return false;
        var oldWord = (ushort)(ttl << 8 | ip[TtlOffset + 1]);
        ip[TtlOffset] = (byte)(ttl - 1);
        var newWord = (ushort)((ttl - 1) << 8 | ip[TtlOffset + 1]);
        WriteHeaderChecksum(ip, Checksum.Update(ReadHeaderChecksum(ip), oldWord, newWord));
        return true;
    }

    public static void RewriteDestination(Span<byte> frame, in PacketHeaders p, uint address, ushort port) =>
        Rewrite(frame, p, DestinationOffset, portOffset: 2, address, port);

    public static void RewriteSource(Span<byte> frame, in PacketHeaders p, uint address, ushort port) =>
        Rewrite(frame, p, SourceOffset, portOffset: 0, address, port);

    private static void Rewrite(Span<byte> frame, in PacketHeaders p, int addressOffset, int portOffset, uint address, ushort port)
    {
        var l4 = frame[p.L4Offset..];
        var oldAddress = SetAddress(frame[p.IpOffset..], addressOffset, address);
        var oldPort = BinaryPrimitives.ReadUInt16BigEndian(l4[portOffset..]);
        BinaryPrimitives.WriteUInt16BigEndian(l4[portOffset..], port);
        var field = l4[(p.Protocol == IpProtocols.Tcp ? TcpSegment.ChecksumOffset : UdpDatagram.ChecksumOffset)..];
        if (p.PartialChecksum)
            BinaryPrimitives.WriteUInt16BigEndian(field, Checksum.UpdatePartial(BinaryPrimitives.ReadUInt16BigEndian(field), oldAddress, address));
        else
            UpdateL4Checksum(field, p.Protocol, oldAddress, address, oldPort, port);
    }

    /// <summary>Writes an IPv4 address at <paramref name="addressOffset"/> of the header <paramref name="ip"/> and
    /// updates the header checksum; returns the address it replaced.</summary>
    internal static uint SetAddress(Span<byte> ip, int addressOffset, uint address)
    {
        var old = BinaryPrimitives.ReadUInt32BigEndian(ip[addressOffset..]);
        BinaryPrimitives.WriteUInt32BigEndian(ip[addressOffset..], address);
        WriteHeaderChecksum(ip, Checksum.Update(ReadHeaderChecksum(ip), old, address));
        return old;
    }

    /// <summary>A full TCP/UDP checksum at <paramref name="field"/>, updated for one address and one port change.
    /// UDP without a checksum (0) stays without one; an updated UDP checksum of 0 is sent as 0xFFFF.</summary>
    internal static void UpdateL4Checksum(Span<byte> field, byte protocol, uint oldAddress, uint address, ushort oldPort, ushort port)
    {
        var old = BinaryPrimitives.ReadUInt16BigEndian(field);
        if (protocol == IpProtocols.Udp && old == 0) return;
        var updated = Checksum.Update(Checksum.Update(old, oldAddress, address), oldPort, port);
        if (protocol == IpProtocols.Udp && updated == 0) updated = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(field, updated);
    }

    private static ushort ReadHeaderChecksum(Span<byte> ip) => BinaryPrimitives.ReadUInt16BigEndian(ip[HeaderChecksumOffset..]);

    private static void WriteHeaderChecksum(Span<byte> ip, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(ip[HeaderChecksumOffset..], value);
}
