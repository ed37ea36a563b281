using System.Buffers.Binary;
using LoadBalancer.Core.IO;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>One kind of change <see cref="FrameMutator"/> makes (named in failure reports).</summary>
internal enum Mutation : byte
{
    BitFlip,
    ByteZero,
    ByteOnes,
    ByteRandom,
    Truncate,
    Extend,
    Ihl,
    TotalLength,
    UdpLength,
    TcpDataOffset,
    EtherType,
    VlanInsert,
    VlanRemove,
    Protocol,
    IpFlags,
    TcpFlags,
    IpVersion,
    Ttl,
    Address,
    Port,
    IpOptions,
    ConsistentCut,
    QuoteByte,
    QuoteHeader,
    QuoteCut,
    MetaChecksumNotReady,
    MetaTruncated,
    MetaVnet,
    MetaPacketType,
    MetaIngress,
    RepairChecksums,
}

/// <summary>The addresses, ports and interfaces of a world, which mutations and random frames pick from so
/// that they reach the services and sessions rather than being left to the kernel at once. The first address
/// and port are the main service's (random frames aim at it half the time).</summary>
internal sealed record FuzzValues(uint[] Addresses, ushort[] Ports, int InterfaceCount);

/// <summary>Mutates frames in place: bit flips, bytes set to 0, 0xFF or random, cuts and padding, header fields
/// set to edge values (IHL, total length, UDP length, TCP data offset, EtherType and 802.1Q tags, protocol,
/// flags, TTL, addresses, ports, IP options inserted), ICMP quotes cut and bent, and the frame metadata (checksum
/// not ready, ring truncation, vnet checksum and GSO fields, packet type, ingress interface). Half the time the
/// checksums are repaired afterwards (independently, with <see cref="ReferenceChecksum"/>), so a mutated frame
/// gets past checksum verification and into the sessions. Layers are located leniently from the bytes as they
/// are, since earlier mutations may have broken them. Every choice comes from the one seeded <see cref="Random"/>.</summary>
internal sealed class FrameMutator(Random random, FuzzValues values)
{
    public const int Capacity = 65_535;

    private static readonly ushort[] EtherTypes = [0x0800, 0x8100, 0x86DD, 0x0806, 0x88A8, 0x9100, 0x0000, 0xFFFF, 0x0801];
    private static readonly byte[] Protocols = [6, 17, 1, 0, 2, 4, 41, 47, 50, 132, 255];
    private static readonly byte[] TcpFlagValues = [0x02, 0x12, 0x10, 0x11, 0x04, 0x14, 0x18, 0x00, 0xFF, 0x03, 0x06, 0x01];
    private static readonly ushort[] IpFlagValues = [0x4000, 0x0000, 0x2000, 0x8000, 0x6000, 0x0001, 0x1FFF, 0x4001, 0x20B9];
    private static readonly byte[] TtlValues = [0, 1, 2, 64, 255];
    private static readonly byte[] IcmpErrorTypes = [3, 4, 5, 11, 12, 0, 8, 13, 255];

    private readonly Mutation[] _applied = new Mutation[16];
    private int _appliedCount;

    /// <summary>The mutations of the last <see cref="Mutate"/>, in order.</summary>
    public string Applied => string.Join(", ", _applied.Take(_appliedCount));

    /// <summary>One to six mutations of <paramref name="frame"/>[..<paramref name="length"/>] and its metadata,
    /// then half the time repaired checksums. <paramref name="frame"/> must hold <see cref="Capacity"/> bytes.</summary>
    public void Mutate(byte[] frame, ref int length, ref FrameMeta meta)
    {
        _appliedCount = 0;
        var count = 1;
        while (count < 6 && random.Next(3) == 0) count++;
        for (var i = 0; i < count; i++) Apply(Pick(), frame, ref length, ref meta);
        if (random.Next(2) == 0) Apply(Mutation.RepairChecksums, frame, ref length, ref meta);
    }

    /// <summary>A frame of random bytes, 0 to 2000 long; most of them made to look like IPv4 (tagged or not) between
    /// the world's addresses and ports, so that parsing goes deep; random metadata.</summary>
    public void RandomFrame(byte[] frame, out int length, out FrameMeta meta)
    {
        _appliedCount = 0;
        length = random.Next(2001);
        var span = frame.AsSpan(0, length);
        Fill(span);
        meta = default;
        if (random.Next(4) != 0 && length >= 34)
        {
            var l3 = random.Next(4) == 0 ? 18 : 14;
            if (l3 == 18) BinaryPrimitives.WriteUInt16BigEndian(span[12..], 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(span[(l3 - 2)..], 0x0800);
            if (length >= l3 + 20)
            {
                var ihl = random.Next(3) == 0 ? random.Next(5, 16) : 5;
                span[l3] = (byte)(0x40 | ihl);
                if (random.Next(3) != 0) BinaryPrimitives.WriteUInt16BigEndian(span[(l3 + 2)..], (ushort)(length - l3 - (random.Next(4) == 0 ? random.Next(8) : 0)));
                if (random.Next(4) != 0) BinaryPrimitives.WriteUInt16BigEndian(span[(l3 + 6)..], random.Next(2) == 0 ? (ushort)0x4000 : (ushort)0);
                span[l3 + 9] = random.Next(8) switch { 0 or 1 or 2 => 6, 3 or 4 or 5 => 17, 6 => 1, _ => span[l3 + 9] };
                if (random.Next(4) != 0) BinaryPrimitives.WriteUInt32BigEndian(span[(l3 + 12)..], AnyAddress());
                // Half of them to the world's first address and port (its main service), the rest anywhere.
                var main = random.Next(2) == 0;
                if (random.Next(8) != 0) BinaryPrimitives.WriteUInt32BigEndian(span[(l3 + 16)..], main ? values.Addresses[0] : AnyAddress());
                var l4 = l3 + ihl * 4;
                if (length >= l4 + 4)
                {
                    if (random.Next(2) == 0) BinaryPrimitives.WriteUInt16BigEndian(span[l4..], AnyPort());
                    if (random.Next(4) != 0) BinaryPrimitives.WriteUInt16BigEndian(span[(l4 + 2)..], main ? values.Ports[0] : AnyPort());
                }
                if (random.Next(2) == 0) Apply(Mutation.RepairChecksums, frame, ref length, ref meta);
            }
        }
        for (var i = random.Next(3); i > 0; i--) Apply((Mutation)random.Next((int)Mutation.MetaChecksumNotReady, (int)Mutation.MetaIngress + 1), frame, ref length, ref meta);
    }

    /// <summary>Random bytes, from a SplitMix64 stream seeded by the one <see cref="Random"/>: as deterministic, and
    /// several times faster than <see cref="Random.NextBytes(Span{byte})"/> of a seeded Random for kilobytes.</summary>
    private void Fill(Span<byte> span)
    {
        var state = (ulong)random.NextInt64();
        var i = 0;
        Span<byte> tail = stackalloc byte[8];
        while (i < span.Length)
        {
            state += 0x9E3779B97F4A7C15UL;
            var z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            if (span.Length - i >= 8)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(span[i..], z);
                i += 8;
            }
            else
            {
                BinaryPrimitives.WriteUInt64LittleEndian(tail, z);
                tail[..(span.Length - i)].CopyTo(span[i..]);
                i = span.Length;
            }
        }
    }

    private Mutation Pick()
    {
        // Byte-level changes and metadata a little more often than each structured one.
        var n = random.Next(44);
        return n switch
        {
            < 4 => Mutation.BitFlip,
            < 6 => Mutation.ByteRandom,
            < 7 => Mutation.ByteZero,
            < 8 => Mutation.ByteOnes,
            < 10 => Mutation.Truncate,
            < 11 => Mutation.Extend,
            < 13 => Mutation.ConsistentCut,
            < 15 => Mutation.QuoteByte,
            < 17 => Mutation.QuoteHeader,
            < 19 => Mutation.QuoteCut,
            < 21 => Mutation.MetaVnet,
            < 22 => Mutation.MetaChecksumNotReady,
            _ => (Mutation)random.Next((int)Mutation.Ihl, (int)Mutation.MetaIngress + 1),
        };
    }

    private void Apply(Mutation m, byte[] frame, ref int length, ref FrameMeta meta)
    {
        if (_appliedCount < _applied.Length) _applied[_appliedCount++] = m;
        var f = frame.AsSpan();
        var l3 = L3(f, length);
        var ihl = length > l3 ? (f[l3] & 0x0F) * 4 : 20;
        var l4 = l3 + ihl;
        switch (m)
        {
            case Mutation.BitFlip:
                if (length > 0) f[Position(length, l3, l4)] ^= (byte)(1 << random.Next(8));
                break;
            case Mutation.ByteZero:
                if (length > 0) f[Position(length, l3, l4)] = 0;
                break;
            case Mutation.ByteOnes:
                if (length > 0) f[Position(length, l3, l4)] = 0xFF;
                break;
            case Mutation.ByteRandom:
                if (length > 0) f[Position(length, l3, l4)] = (byte)random.Next(256);
                break;
            case Mutation.Truncate:
                length = random.Next(3) == 0 ? random.Next(length + 1) : Math.Max(0, length - random.Next(1, 40));
                break;
            case Mutation.Extend:
            {
                var extra = Math.Min(random.Next(2) == 0 ? random.Next(1, 16) : random.Next(1, 1600), Capacity - length);
                var fill = random.Next(3);
                for (var i = length; i < length + extra; i++) f[i] = fill switch { 0 => 0, 1 => 0xA5, _ => (byte)random.Next(256) };
                length += extra;
                break;
            }
            case Mutation.Ihl:
                if (length > l3) f[l3] = (byte)(f[l3] & 0xF0 | Pick([0, 1, 4, 5, 6, 7, 15, ihl / 4 + 1, ihl / 4 - 1, random.Next(16)]) & 0x0F);
                break;
            case Mutation.TotalLength:
                if (length >= l3 + 4)
                {
                    var actual = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + 2)..]);
                    var v = Pick([0, 1, 19, 20, ihl - 1, ihl, ihl + 7, ihl + 8, ihl + 19, ihl + 20, actual - 1, actual + 1, length - l3, length - l3 + 1, 0xFFFF, random.Next(65536)]);
                    BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 2)..], (ushort)v);
                }
                break;
            case Mutation.UdpLength:
                if (length >= l4 + 6)
                {
                    var payload = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + 2)..]) - ihl;
                    BinaryPrimitives.WriteUInt16BigEndian(f[(l4 + 4)..], (ushort)Pick([0, 1, 7, 8, 9, payload - 1, payload, payload + 1, 0xFFFF, random.Next(65536)]));
                }
                break;
            case Mutation.TcpDataOffset:
                if (length > l4 + 12) f[l4 + 12] = (byte)(Pick([0, 1, 4, 5, 6, 15, (f[l4 + 12] >> 4) + 1, (f[l4 + 12] >> 4) - 1, random.Next(16)]) << 4 | f[l4 + 12] & 0x0F);
                break;
            case Mutation.EtherType:
                if (length >= 14)
                {
                    var at = l3 == 18 && random.Next(2) == 0 ? 16 : 12;
                    BinaryPrimitives.WriteUInt16BigEndian(f[at..], random.Next(8) == 0 ? (ushort)random.Next(65536) : EtherTypes[random.Next(EtherTypes.Length)]);
                }
                break;
            case Mutation.VlanInsert:
                if (length >= 12 && length + 4 <= Capacity)
                {
                    f[12..length].CopyTo(f[16..]);
                    BinaryPrimitives.WriteUInt16BigEndian(f[12..], random.Next(4) == 0 ? (ushort)0x88A8 : (ushort)0x8100);
                    BinaryPrimitives.WriteUInt16BigEndian(f[14..], (ushort)random.Next(65536));
                    length += 4;
                }
                break;
            case Mutation.VlanRemove:
                if (length >= 18 && BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == 0x8100)
                {
                    f[16..length].CopyTo(f[12..]);
                    length -= 4;
                }
                break;
            case Mutation.Protocol:
                if (length > l3 + 9) f[l3 + 9] = random.Next(6) == 0 ? (byte)random.Next(256) : Protocols[random.Next(Protocols.Length)];
                break;
            case Mutation.IpFlags:
                if (length >= l3 + 8) BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 6)..], IpFlagValues[random.Next(IpFlagValues.Length)]);
                break;
            case Mutation.TcpFlags:
                if (length > l4 + 13) f[l4 + 13] = random.Next(6) == 0 ? (byte)random.Next(256) : TcpFlagValues[random.Next(TcpFlagValues.Length)];
                break;
            case Mutation.IpVersion:
                if (length > l3) f[l3] = (byte)(Pick([0, 4, 5, 6, 15]) << 4 | f[l3] & 0x0F);
                break;
            case Mutation.Ttl:
                if (length > l3 + 8) f[l3 + 8] = TtlValues[random.Next(TtlValues.Length)];
                break;
            case Mutation.Address:
                if (length >= l3 + 20) BinaryPrimitives.WriteUInt32BigEndian(f[(l3 + (random.Next(2) == 0 ? 12 : 16))..], AnyAddress());
                break;
            case Mutation.Port:
                if (length >= l4 + 4) BinaryPrimitives.WriteUInt16BigEndian(f[(l4 + (random.Next(2) == 0 ? 0 : 2))..], AnyPort());
                break;
            case Mutation.IpOptions:
                InsertIpOptions(f, ref length, l3, ihl);
                break;
            case Mutation.ConsistentCut:
                // Cut inside the datagram and make the total length agree, so the cut is met by the L4 parsers.
                if (length > l4)
                {
                    length = random.Next(l4, length + 1);
                    BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 2)..], (ushort)(length - l3));
                    RepairIpHeader(f, length, l3);
                }
                break;
            case Mutation.QuoteByte:
                if (length > l4 + 8) f[random.Next(l4 + 8, Math.Min(length, l4 + 8 + 68))] = (byte)(random.Next(3) switch { 0 => 0, 1 => 0xFF, _ => random.Next(256) });
                break;
            case Mutation.QuoteHeader:
                BendQuote(f, length, l4);
                break;
            case Mutation.QuoteCut:
                // Cut an ICMP error within (or just past) its quote, keeping the outer total length honest.
                if (length > l4 + 8)
                {
                    length = Math.Min(length, l4 + 8 + random.Next(0, 72));
                    BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 2)..], (ushort)(length - l3));
                    RepairIpHeader(f, length, l3);
                }
                break;
            case Mutation.MetaChecksumNotReady:
                meta.ChecksumNotReady = !meta.ChecksumNotReady;
                break;
            case Mutation.MetaTruncated:
                meta.Truncated = !meta.Truncated;
                break;
            case Mutation.MetaVnet:
                meta.Vnet = Vnet(f, length, l3, l4);
                break;
            case Mutation.MetaPacketType:
                meta.PacketType = (PacketType)Pick([0, 1, 2, 3, 4, 7, 255]);
                break;
            case Mutation.MetaIngress:
                meta.IngressInterface = random.Next(4) == 0 ? Pick([-1, values.InterfaceCount, 1000, int.MaxValue, int.MinValue]) : random.Next(values.InterfaceCount);
                break;
            case Mutation.RepairChecksums:
                RepairChecksums(f, length, meta);
                break;
        }
    }

    /// <summary>A position to change, biased to the headers, where the parsers look.</summary>
    private int Position(int length, int l3, int l4) => random.Next(4) switch
    {
        0 => random.Next(Math.Min(length, l3 + 20)),
        1 => Math.Min(length - 1, l3 + random.Next(Math.Max(1, l4 - l3 + 20))),
        _ => random.Next(length),
    };

    private int Pick(ReadOnlySpan<int> choices) => choices[random.Next(choices.Length)];

    private uint AnyAddress() => random.Next(6) == 0 ? (uint)random.NextInt64(1L << 32) : values.Addresses[random.Next(values.Addresses.Length)];

    private ushort AnyPort() => random.Next(6) == 0 ? (ushort)random.Next(65536) : values.Ports[random.Next(values.Ports.Length)];

    private static int L3(ReadOnlySpan<byte> f, int length) =>
        length >= 18 && BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == 0x8100 ? 18 : 14;

    private void InsertIpOptions(Span<byte> f, ref int length, int l3, int ihl)
    {
        var room = 60 - ihl;
        if (room < 4 || length < l3 + ihl || length + room > Capacity) return;
        var n = random.Next(1, room / 4 + 1) * 4;
        f[(l3 + ihl)..length].CopyTo(f[(l3 + ihl + n)..]);
        var options = f.Slice(l3 + ihl, n);
        switch (random.Next(5))
        {
            case 0: options.Fill(1); break; // NOPs
            case 1: options.Clear(); break; // end of options
            case 2: // router alert, then NOPs
                options.Fill(1);
                options[0] = 0x94; options[1] = 4; options[2] = 0; options[3] = 0;
                break;
            case 3: // record route with room for the addresses that fit
                options.Clear();
                options[0] = 7; options[1] = (byte)Math.Min(n - 1, 39); options[2] = 4;
                break;
            default: random.NextBytes(options); break;
        }
        f[l3] = (byte)(f[l3] & 0xF0 | (ihl + n) / 4);
        BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 2)..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + 2)..]) + n));
        length += n;
    }

    /// <summary>An edge in the quoted datagram of an ICMP error (or whatever sits where it would): its version,
    /// IHL, protocol, total length or ports, or the outer ICMP type and code.</summary>
    private void BendQuote(Span<byte> f, int length, int l4)
    {
        var q = l4 + 8;
        switch (random.Next(6))
        {
            case 0 when length > q: f[q] = (byte)(f[q] & 0x0F | Pick([0, 4, 6, 15]) << 4); break;
            case 1 when length > q: f[q] = (byte)(f[q] & 0xF0 | Pick([0, 4, 5, 6, 7, 15, random.Next(16)])); break;
            case 2 when length > q + 9: f[q + 9] = random.Next(2) == 0 ? Protocols[random.Next(Protocols.Length)] : (byte)random.Next(256); break;
            case 3 when length > q + 3: BinaryPrimitives.WriteUInt16BigEndian(f[(q + 2)..], (ushort)Pick([0, 1, 20, 28, 40, 576, 1500, 0xFFFF, random.Next(65536)])); break;
            case 4 when length > l4 + 1:
                f[l4] = IcmpErrorTypes[random.Next(IcmpErrorTypes.Length)];
                f[l4 + 1] = (byte)(random.Next(4) == 0 ? random.Next(256) : random.Next(16));
                break;
            default:
                var ihl = length > q ? (f[q] & 0x0F) * 4 : 20;
                var at = q + ihl + (random.Next(2) == 0 ? 0 : 2);
                if (ihl >= 20 && length >= at + 2) BinaryPrimitives.WriteUInt16BigEndian(f[at..], AnyPort());
                break;
        }
    }

    /// <summary>Vnet header fields: the coherent ones the kernel gives (NEEDS_CSUM at the L4 checksum field, GSO with
    /// a segment size around the usual MTUs, DATA_VALID) and arbitrary ones.</summary>
    private VnetHeader Vnet(ReadOnlySpan<byte> f, int length, int l3, int l4)
    {
        var protocol = length > l3 + 9 ? f[l3 + 9] : (byte)0;
        var field = (ushort)(protocol == 17 ? 6 : 16);
        var tcpHeader = length > l4 + 12 ? (f[l4 + 12] >> 4) * 4 : 20;
        switch (random.Next(6))
        {
            case 0: return default;
            case 1: return new VnetHeader { Flags = 2 };
            case 2: return new VnetHeader { Flags = VnetHeader.FlagNeedsChecksum, ChecksumStart = (ushort)l4, ChecksumOffset = field };
            case 3:
            case 4:
                return new VnetHeader
                {
                    Flags = VnetHeader.FlagNeedsChecksum,
                    GsoType = protocol == 17 ? (byte)5 : random.Next(4) == 0 ? (byte)(VnetHeader.GsoTcpV4 | VnetHeader.GsoEcn) : VnetHeader.GsoTcpV4,
                    GsoSize = (ushort)Pick([1, 8, 28, 40, 536, 1220, 1380, 1448, 1460, 1472, 8948, 0xFFFF, random.Next(1, 9000)]),
                    HeaderLength = (ushort)(l4 + tcpHeader),
                    ChecksumStart = (ushort)l4,
                    ChecksumOffset = field,
                };
            default:
                return new VnetHeader
                {
                    Flags = (byte)Pick([0, 1, 2, 3, 4, 0xFF, random.Next(256)]),
                    GsoType = (byte)Pick([0, 1, 3, 4, 5, 0x80, 0x81, random.Next(256)]),
                    GsoSize = (ushort)Pick([0, 1, 1448, 0xFFFF, random.Next(65536)]),
                    HeaderLength = (ushort)random.Next(65536),
                    ChecksumStart = (ushort)Pick([0, 6, 14, l3, l4 - 1, l4, l4 + 1, length - 2, length - 1, length, 0xFFFF, random.Next(65536)]),
                    ChecksumOffset = (ushort)Pick([0, 2, 6, 16, 18, 0xFFFF, random.Next(65536)]),
                };
        }
    }

    /// <summary>Recomputes the IPv4 header checksum, the TCP/UDP (full, or partial when the metadata says the sender
    /// left it partial) or ICMP checksum, and a quoted datagram's header checksum, wherever the bytes allow.</summary>
    private static void RepairChecksums(Span<byte> f, int length, in FrameMeta meta)
    {
        var l3 = L3(f, length);
        if (length < l3 + 20) return;
        var ihl = (f[l3] & 0x0F) * 4;
        if (ihl < 20 || length < l3 + ihl) return;
        int total = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + 2)..]);
        var end = Math.Min(length, l3 + Math.Max(total, ihl));
        var l4 = l3 + ihl;
        var protocol = f[l3 + 9];
        var segment = f[l4..end];
        var source = BinaryPrimitives.ReadUInt32BigEndian(f[(l3 + 12)..]);
        var destination = BinaryPrimitives.ReadUInt32BigEndian(f[(l3 + 16)..]);
        if (protocol is 6 or 17 && segment.Length >= (protocol == 6 ? 20 : 8))
        {
            var field = protocol == 6 ? 16 : 6;
            var pseudo = ReferenceChecksum.PseudoHeader(source, destination, protocol, segment.Length);
            BinaryPrimitives.WriteUInt16BigEndian(segment[field..], 0);
            ushort value;
            if (meta.ChecksumNotReady || meta.Vnet.NeedsChecksum)
            {
                value = ReferenceChecksum.Sum([], pseudo);
            }
            else
            {
                value = ReferenceChecksum.Compute(segment, pseudo);
                if (protocol == 17 && value == 0) value = 0xFFFF;
            }
            BinaryPrimitives.WriteUInt16BigEndian(segment[field..], value);
        }
        else if (protocol == 1 && segment.Length >= 8)
        {
            var q = 8;
            if (segment.Length >= q + 20 && segment[q] >> 4 == 4 && (segment[q] & 0x0F) >= 5 && segment.Length >= q + (segment[q] & 0x0F) * 4)
                RepairIpHeader(segment, segment.Length, q);
            BinaryPrimitives.WriteUInt16BigEndian(segment[2..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(segment[2..], ReferenceChecksum.Compute(segment));
        }
        RepairIpHeader(f, length, l3);
    }

    private static void RepairIpHeader(Span<byte> f, int length, int l3)
    {
        if (length < l3 + 20) return;
        var ihl = Math.Max(20, (f[l3] & 0x0F) * 4);
        if (length < l3 + ihl) return;
        BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 10)..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(f[(l3 + 10)..], ReferenceChecksum.Compute(f.Slice(l3, ihl)));
    }
}
