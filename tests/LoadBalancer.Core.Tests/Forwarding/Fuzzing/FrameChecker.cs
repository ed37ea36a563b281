using System.Buffers.Binary;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>Something wrong with what the processor did to one frame. <paramref name="Category"/> is stable
/// across frames (failures are grouped by it); <paramref name="Detail"/> is about this frame; <paramref name="Error"/>
/// is what the processor threw, if it threw.</summary>
internal sealed record Finding(string Category, string Detail, Exception? Error = null)
{
    public override string ToString() => $"{Category}: {Detail}";
}

/// <summary>One frame through the processor: the bytes and metadata it was given, the buffer and metadata after,
/// the verdict, and what the counters say happened.</summary>
internal readonly ref struct Outcome
{
    public required ReadOnlySpan<byte> Input { get; init; }
    public required FrameMeta InputMeta { get; init; }
    /// <summary>The whole span the processor was given, as it left it.</summary>
    public required ReadOnlySpan<byte> Frame { get; init; }
    public required FrameMeta Meta { get; init; }
    public required Verdict Verdict { get; init; }
    /// <summary>The reason counted, for a drop (or a transmitted fragmentation-needed answer, counted as mtu_exceeded).</summary>
    public required DropReason Drop { get; init; }
    /// <summary>The engine counted an ICMP error it built itself.</summary>
    public required bool IcmpBuilt { get; init; }
    /// <summary>The engine counted an ICMP error it did not build because its destination had one too recently.</summary>
    public bool IcmpRateLimited { get; init; }
}

/// <summary>Byte ranges a rewrite may change (a handful per frame, so a list beats a mask).</summary>
internal sealed class ByteRanges
{
    private readonly int[] _start = new int[16];
    private readonly int[] _end = new int[16];
    private int _count;

    public void Clear() => _count = 0;

    public ByteRanges Add(int start, int length)
    {
        if (_count < _start.Length && length > 0)
        {
            _start[_count] = start;
            _end[_count++] = start + length;
        }
        return this;
    }

    public bool Contains(int index)
    {
        for (var i = 0; i < _count; i++)
            if (index >= _start[i] && index < _end[i]) return true;
        return false;
    }
}

/// <summary>The contract of one mode, checked on every transmitted frame with <see cref="ReferenceDecoder"/>:
/// the frame sent lies within the buffer, is IPv4 that a receiver takes (version, IHL, total length, no
/// fragment), changed only the bytes the mode rewrites, and kept the checksums it should keep: a checksum that
/// was valid (or partial and completed) is valid after; what the engine computed itself is always valid.
/// Checksum verdicts are skipped where the frame metadata is not what the kernel produces (a NEEDS_CSUM
/// pointing elsewhere than the L4 checksum field, GSO without it): a checksum written where such metadata says
/// may land anywhere, and the kernel never asks for it.</summary>
internal abstract class FrameChecker(int interfaceCount)
{
    private readonly byte[] _scratch = new byte[70_000];
    private readonly byte[] _restored = new byte[70_000];
    protected readonly ByteRanges Allowed = new();

    public abstract string Mode { get; }

    /// <summary>Transmitted frames checked, and how many of them had metadata the kernel produces (the rest had
    /// their checksums left unjudged).</summary>
    public long Checked { get; private set; }
    public long CheckedCoherent { get; private set; }

    /// <summary>The problem with a transmitted frame, or null.</summary>
    public Finding? CheckTransmit(in Outcome o)
    {
        Checked++;
        if (o.InputMeta.Truncated) return new("a ring-truncated frame was transmitted", "FrameMeta.Truncated was set");
        var length = o.Meta.TransmitLength;
        if (length < 0 || length > o.Frame.Length)
            return new("TransmitLength outside the frame", $"TransmitLength {length}, frame {o.Frame.Length} bytes");
        var wire = length > 0 ? o.Frame[..length] : o.Frame;
        if ((uint)o.Meta.EgressInterface >= (uint)interfaceCount)
            return new("egress interface out of range", $"egress {o.Meta.EgressInterface} of {interfaceCount} interfaces");
        if (ReferenceDecoder.TryDecode(o.Input, out var input) is { } badInput)
            return new($"{Mode}: transmitted a frame the reference decoder refuses", badInput);
        var coherent = Coherent(o.Input, input, o.InputMeta);
        if (coherent)
        {
            CheckedCoherent++;
        }
        else if (length == 0 && CompletedAt(input, o.InputMeta) is var at and >= 0
                 && at != input.L4 + ReferenceDecoder.ChecksumFieldOffset(input.Protocol))
        {
            // A NEEDS_CSUM elsewhere than the L4 checksum field (as for a tunnel's inner segment) is honoured where it
            // points. Among the headers nothing is left to judge; in the payload, the rest of the frame still is.
            if (at < input.L4 + (input.Protocol == ReferenceDecoder.Tcp ? 20 : 8) || at + 2 > o.Input.Length) return null;
            var restored = _restored.AsSpan(0, wire.Length);
            wire.CopyTo(restored);
            o.Input.Slice(at, 2).CopyTo(restored[at..]);
            wire = restored;
        }
        if (ReferenceDecoder.TryDecode(wire, out var output) is { } bad) return new($"{Mode}: transmitted a frame that is not IPv4", bad);
        if (output.IsFragment) return new($"{Mode}: transmitted a fragment", "MF or fragment offset set");
        return Check(o, wire, input, output, coherent);
    }

    /// <summary>The problem with a dropped frame's reason, or null (most reasons are not second-guessed).</summary>
    public virtual Finding? CheckDrop(in Outcome o) => null;

    protected abstract Finding? Check(in Outcome o, ReadOnlySpan<byte> wire, in Ipv4Layout input, in Ipv4Layout output, bool coherent);

    /// <summary>Whether the metadata is what the kernel gives with such a frame: NEEDS_CSUM only for TCP/UDP at the
    /// L4 checksum field, GSO only with NEEDS_CSUM, a segment size and the matching protocol, no unknown vnet flags.</summary>
    public static bool Coherent(ReadOnlySpan<byte> frame, in Ipv4Layout v, in FrameMeta meta)
    {
        var vnet = meta.Vnet;
        if ((vnet.Flags & ~3) != 0) return false; // NEEDS_CSUM and DATA_VALID only
        if (vnet.NeedsChecksum && !(v.Protocol is ReferenceDecoder.Tcp or ReferenceDecoder.Udp
                && vnet.ChecksumStart == v.L4 && vnet.ChecksumOffset == ReferenceDecoder.ChecksumFieldOffset(v.Protocol))) return false;
        var gso = vnet.GsoType & 0x7F;
        if (gso == 0) return true;
        return vnet.NeedsChecksum && vnet.GsoSize > 0 && (gso == 1 && v.Protocol == ReferenceDecoder.Tcp || gso == 5 && v.Protocol == ReferenceDecoder.Udp);
    }

    /// <summary>Where the processor completes a partial TCP/UDP checksum of this input (the vnet header's place, else
    /// the checksum field), or -1 when it leaves the checksum as it is (not partial, or GSO).</summary>
    private static int CompletedAt(in Ipv4Layout input, in FrameMeta meta)
    {
        if (input.Protocol is not (ReferenceDecoder.Tcp or ReferenceDecoder.Udp) || IsGso(meta)) return -1;
        if (meta.Vnet.NeedsChecksum) return meta.Vnet.ChecksumStart + meta.Vnet.ChecksumOffset;
        return meta.ChecksumNotReady ? input.L4 + ReferenceDecoder.ChecksumFieldOffset(input.Protocol) : -1;
    }

    protected static bool IsGso(in FrameMeta meta) => (meta.Vnet.GsoType & 0x7F) != 0;

    /// <summary>The checksum state of the input's TCP/UDP segment as it was handed over: partial when the
    /// metadata says so, else as a receiver checks it.</summary>
    protected static L4Sum InputL4(ReadOnlySpan<byte> frame, in Ipv4Layout v, in FrameMeta meta, bool coherent)
    {
        if (!coherent) return L4Sum.Unknown;
        return meta.ChecksumNotReady || meta.Vnet.NeedsChecksum ? ReferenceDecoder.PartialL4(frame, v) : ReferenceDecoder.FullL4(frame, v);
    }

    /// <summary>Valid in, valid out: a TCP/UDP checksum that verified (or was a correct partial sum) must verify as
    /// the frame goes on the wire (the kernel completing a NEEDS_CSUM it is left with, a GSO frame's staying partial).</summary>
    protected Finding? L4Preserved(ReadOnlySpan<byte> wire, in Ipv4Layout input, in Ipv4Layout output, L4Sum before, in FrameMeta meta)
    {
        if (before is not (L4Sum.Valid or L4Sum.Absent)) return null;
        L4Sum after;
        if (IsGso(meta))
        {
            if (before == L4Sum.Absent) return null;
            after = meta.Vnet.NeedsChecksum ? ReferenceDecoder.PartialL4(wire, output) : L4Sum.Invalid;
            return after == L4Sum.Valid ? null : new($"{Mode}: a GSO frame's partial checksum was broken", $"partial sum {after} after, valid before");
        }
        if (meta.Vnet.NeedsChecksum)
        {
            var copy = _scratch.AsSpan(0, wire.Length);
            wire.CopyTo(copy);
            if (!ReferenceDecoder.CompleteLikeKernel(copy, meta.Vnet.ChecksumStart, meta.Vnet.ChecksumOffset))
                return new($"{Mode}: left a NEEDS_CSUM the kernel refuses", $"csum_start {meta.Vnet.ChecksumStart} + csum_offset {meta.Vnet.ChecksumOffset} beyond {wire.Length} bytes");
            after = ReferenceDecoder.FullL4(copy, output);
        }
        else
        {
            after = ReferenceDecoder.FullL4(wire, output);
        }
        if (after == L4Sum.Valid || (before == L4Sum.Absent && after == L4Sum.Absent)) return null;
        var field = BinaryPrimitives.ReadUInt16BigEndian(wire[(output.L4 + ReferenceDecoder.ChecksumFieldOffset(output.Protocol))..]);
        return new($"{Mode}: a {(output.Protocol == ReferenceDecoder.Tcp ? "TCP" : "UDP")} checksum that was {before} in is {after} out",
            $"field 0x{field:x4}{(meta.Vnet.NeedsChecksum ? " (after the kernel's NEEDS_CSUM completion)" : "")}");
    }

    /// <summary>The first byte that differs between input and output outside <see cref="Allowed"/>, or null.</summary>
    protected Finding? OnlyAllowedChanged(ReadOnlySpan<byte> input, ReadOnlySpan<byte> wire, string rewrite)
    {
        if (input.Length != wire.Length) return new($"{Mode}: {rewrite} changed the frame length", $"{input.Length} bytes in, {wire.Length} out");
        var i = 0;
        while (i < input.Length)
        {
            i += input[i..].CommonPrefixLength(wire[i..]);
            if (i >= input.Length) break;
            if (!Allowed.Contains(i))
                return new($"{Mode}: {rewrite} changed a byte it does not rewrite", $"byte {i}: 0x{input[i]:x2} -> 0x{wire[i]:x2}");
            i++;
        }
        return null;
    }

    /// <summary>Allows the L4 checksum field: always when the mode updates it (<paramref name="updated"/>), else only
    /// where the processor completes a partial one (at the vnet header's place when it gives one).</summary>
    protected void AllowChecksumField(in Ipv4Layout input, in FrameMeta meta, bool updated)
    {
        if (input.Protocol is not (ReferenceDecoder.Tcp or ReferenceDecoder.Udp)) return;
        var partial = (meta.ChecksumNotReady || meta.Vnet.NeedsChecksum) && !IsGso(meta);
        if (updated || (partial && !meta.Vnet.NeedsChecksum)) Allowed.Add(input.L4 + ReferenceDecoder.ChecksumFieldOffset(input.Protocol), 2);
        if (partial && meta.Vnet.NeedsChecksum) Allowed.Add(meta.Vnet.ChecksumStart + meta.Vnet.ChecksumOffset, 2);
    }

    protected static string Mac(ReadOnlySpan<byte> frame, int at) => MacAddress.Read(frame[at..]).ToString();

    /// <summary>An ICMP error about a flow (destination unreachable, source quench, time exceeded, parameter problem),
    /// which DR and CLUSTERIP forward to where the quoted flow goes, MACs changed only.</summary>
    protected static bool IsIcmpError(ReadOnlySpan<byte> frame, in Ipv4Layout v) =>
        v.Protocol == ReferenceDecoder.Icmp && v.PayloadLength >= 8 && frame[v.L4] is 3 or 4 or 11 or 12;

    protected static string Ip(uint address) => Ipv4.Format(address);
}

/// <summary>Direct routing: only the MACs change (and a partial checksum is completed). What the client sent goes
/// on as it was, wrong checksums and TTL 0 included (end to end, not ours to judge).</summary>
internal sealed class DirectRoutingChecker(IReadOnlySet<MacAddress> backendMacs, MacAddress interfaceMac, int interfaceCount, int egress)
    : FrameChecker(interfaceCount)
{
    public override string Mode => "DR";

    protected override Finding? Check(in Outcome o, ReadOnlySpan<byte> wire, in Ipv4Layout input, in Ipv4Layout output, bool coherent)
    {
        if (o.Meta.EgressInterface != egress) return new("DR: wrong egress interface", $"egress {o.Meta.EgressInterface}");
        if (input.Protocol is not (ReferenceDecoder.Tcp or ReferenceDecoder.Udp) && !IsIcmpError(o.Input, input))
            return new("DR: transmitted neither TCP, UDP nor an ICMP error", $"protocol {input.Protocol}");
        if (!backendMacs.Contains(MacAddress.Read(wire))) return new("DR: destination MAC is no backend's", Mac(wire, 0));
        if (MacAddress.Read(wire[6..]) != interfaceMac) return new("DR: source MAC is not the interface's", Mac(wire, 6));
        Allowed.Clear();
        Allowed.Add(0, 12);
        AllowChecksumField(input, o.InputMeta, updated: false);
        if (OnlyAllowedChanged(o.Input, wire, "direct routing") is { } f) return f;
        if (!coherent) return null;
        if (ReferenceDecoder.HeaderChecksumValid(o.Input, input) && !ReferenceDecoder.HeaderChecksumValid(wire, output))
            return new("DR: a valid IPv4 header checksum became invalid", "");
        return L4Preserved(wire, input, output, InputL4(o.Input, input, o.InputMeta, coherent), o.Meta);
    }
}

/// <summary>CLUSTERIP: only the destination MAC changes, to the TAP's (and a partial checksum is completed).</summary>
internal sealed class ClusterIpChecker(MacAddress tapMac, int tapInterface, int interfaceCount) : FrameChecker(interfaceCount)
{
    public override string Mode => "CLUSTERIP";

    protected override Finding? Check(in Outcome o, ReadOnlySpan<byte> wire, in Ipv4Layout input, in Ipv4Layout output, bool coherent)
    {
        if (o.Meta.EgressInterface != tapInterface) return new("CLUSTERIP: not re-injected into the TAP", $"egress {o.Meta.EgressInterface}");
        if (input.Protocol is not (ReferenceDecoder.Tcp or ReferenceDecoder.Udp) && !IsIcmpError(o.Input, input))
            return new("CLUSTERIP: transmitted neither TCP, UDP nor an ICMP error", $"protocol {input.Protocol}");
        if (MacAddress.Read(wire) != tapMac) return new("CLUSTERIP: destination MAC is not the TAP's", Mac(wire, 0));
        Allowed.Clear();
        Allowed.Add(0, 6);
        AllowChecksumField(input, o.InputMeta, updated: false);
        if (OnlyAllowedChanged(o.Input, wire, "re-injection") is { } f) return f;
        if (!coherent) return null;
        if (ReferenceDecoder.HeaderChecksumValid(o.Input, input) && !ReferenceDecoder.HeaderChecksumValid(wire, output))
            return new("CLUSTERIP: a valid IPv4 header checksum became invalid", "");
        return L4Preserved(wire, input, output, InputL4(o.Input, input, o.InputMeta, coherent), o.Meta);
    }
}

/// <summary>The NAT world a <see cref="NatChecker"/> knows: one VIP, one backend address, the ports each protocol
/// is translated between, the interfaces (front 0, back 1) with their MACs and the back side's MTU.</summary>
internal sealed record NatWorld(uint Vip, uint Backend, MacAddress BackendMac, MacAddress FrontMac, MacAddress BackMac, uint FrontAddress,
    int BackMtu, ushort TcpServicePort, ushort TcpBackendPort, ushort UdpServicePort, ushort UdpBackendPort)
{
    public const int Front = 0, Back = 1;

    public static NatWorld Fixture(int backMtu = NatFixture.BackMtu) => new(FrameBuilder.Ip(NatFixture.Vip), FrameBuilder.Ip(NatFixture.Rs1),
        NatFixture.Rs1Mac, NatFixture.FrontMac, NatFixture.BackMac, Fixtures.NatInterfaces[0].Address, backMtu,
        NatFixture.WebPort, NatFixture.Rs1WebPort, NatFixture.EchoPort, NatFixture.EchoPort);

    public ushort ServicePort(byte protocol) => protocol == ReferenceDecoder.Tcp ? TcpServicePort : UdpServicePort;

    public ushort BackendPort(byte protocol) => protocol == ReferenceDecoder.Tcp ? TcpBackendPort : UdpBackendPort;
}

/// <summary>NAT: a router hop. Client to backend: destination to the backend's address and port, TTL − 1,
/// checksums updated, within the back side's MTU (or answered with fragmentation-needed, checked byte for byte
/// against one built here). Backend to client: source to VIP:port. ICMP errors: the outer address that stood for
/// the session and the quoted datagram translated, the ICMP checksum recomputed. Every IPv4 header it sends has a
/// valid checksum and TTL ≥ 1: it verified the header (or built it) before an incremental update.</summary>
internal sealed class NatChecker(NatWorld world) : FrameChecker(2)
{
    private readonly byte[] _expected = new byte[128];

    public override string Mode => "NAT";

    public NatWorld World { get; } = world;

    /// <summary>Transmitted frames per kind: client to backend, backend to client, ICMP errors each way, and
    /// fragmentation-needed answers.</summary>
    public long Forwarded { get; private set; }
    public long Replied { get; private set; }
    public long IcmpToBackend { get; private set; }
    public long IcmpToClient { get; private set; }
    public long FragmentationNeededSent { get; private set; }

    protected override Finding? Check(in Outcome o, ReadOnlySpan<byte> wire, in Ipv4Layout input, in Ipv4Layout output, bool coherent)
    {
        if (o.IcmpBuilt)
        {
            FragmentationNeededSent++;
            return FragmentationNeeded(o, wire, input);
        }
        if (o.Meta.TransmitLength != 0) return new("NAT: a translated frame was cut", $"TransmitLength {o.Meta.TransmitLength}");
        if (coherent && !ReferenceDecoder.HeaderChecksumValid(wire, output))
        {
            var was = ReferenceDecoder.HeaderChecksumValid(o.Input, input) ? "valid" : "invalid";
            return new($"NAT: sent an IPv4 header with a bad checksum ({(input.Protocol == ReferenceDecoder.Icmp ? "ICMP error" : "TCP/UDP")}, {was} in)",
                $"{Ip(output.Source)} -> {Ip(output.Destination)}");
        }
        if (output.Ttl != input.Ttl - 1) return new("NAT: TTL not decremented by one", $"TTL {input.Ttl} -> {output.Ttl}");
        Allowed.Clear();
        Allowed.Add(0, 12).Add(input.L3 + 8, 1).Add(input.L3 + 10, 2);
        return input.Protocol switch
        {
            ReferenceDecoder.Tcp or ReferenceDecoder.Udp when o.Meta.EgressInterface == NatWorld.Back => Forward(o, wire, input, output, coherent),
            ReferenceDecoder.Tcp or ReferenceDecoder.Udp => Reply(o, wire, input, output, coherent),
            ReferenceDecoder.Icmp => IcmpError(o, wire, input, output, coherent),
            _ => new("NAT: transmitted neither TCP, UDP nor ICMP", $"protocol {input.Protocol}"),
        };
    }

    private Finding? Forward(in Outcome o, ReadOnlySpan<byte> wire, in Ipv4Layout input, in Ipv4Layout output, bool coherent)
    {
        Forwarded++;
        if (MacAddress.Read(wire) != World.BackendMac || MacAddress.Read(wire[6..]) != World.BackMac)
            return new("NAT: client-to-backend MACs wrong", $"{Mac(wire, 0)} <- {Mac(wire, 6)}");
        var port = BinaryPrimitives.ReadUInt16BigEndian(wire[(output.L4 + 2)..]);
        if (output.Destination != World.Backend || port != World.BackendPort(output.Protocol))
            return new("NAT: client-to-backend destination wrong", $"{Ip(output.Destination)}:{port}");
        var segment = SegmentLength(wire, output, o.Meta);
        if (segment > World.BackMtu)
            return new("NAT: sent more than the back side's MTU", $"{segment} bytes of IP per {(IsGso(o.Meta) ? "GSO segment" : "frame")}, MTU {World.BackMtu}");
        Allowed.Add(input.L3 + 16, 4).Add(input.L4 + 2, 2);
        AllowChecksumField(input, o.InputMeta, updated: true);
        if (OnlyAllowedChanged(o.Input, wire, "client-to-backend translation") is { } f) return f;
        return L4Preserved(wire, input, output, InputL4(o.Input, input, o.InputMeta, coherent), o.Meta);
    }

    private Finding? Reply(in Outcome o, ReadOnlySpan<byte> wire, in Ipv4Layout input, in Ipv4Layout output, bool coherent)
    {
        Replied++;
        if (o.Meta.EgressInterface != NatWorld.Front) return new("NAT: wrong egress interface", $"egress {o.Meta.EgressInterface}");
        if (MacAddress.Read(wire[6..]) != World.FrontMac) return new("NAT: backend-to-client source MAC wrong", Mac(wire, 6));
        var port = BinaryPrimitives.ReadUInt16BigEndian(wire[output.L4..]);
        if (output.Source != World.Vip || port != World.ServicePort(output.Protocol))
            return new("NAT: backend-to-client source wrong", $"{Ip(output.Source)}:{port}");
        Allowed.Add(input.L3 + 12, 4).Add(input.L4, 2);
        AllowChecksumField(input, o.InputMeta, updated: true);
        if (OnlyAllowedChanged(o.Input, wire, "backend-to-client translation") is { } f) return f;
        return L4Preserved(wire, input, output, InputL4(o.Input, input, o.InputMeta, coherent), o.Meta);
    }

    private Finding? IcmpError(in Outcome o, ReadOnlySpan<byte> wire, in Ipv4Layout input, in Ipv4Layout output, bool coherent)
    {
        if (coherent && !ReferenceDecoder.IcmpChecksumValid(wire, output)) return new("NAT: sent an ICMP error with a bad ICMP checksum", "");
        if (!ReferenceDecoder.TryQuote(o.Input, input, out var quoteIp, out var quoteIhl, out var quoteL4))
            return new("NAT: translated an ICMP error without a readable quote", $"{input.PayloadLength} bytes of ICMP");
        var type = o.Input[input.L4];
        if (type is not (3 or 4 or 11 or 12)) return new("NAT: translated an ICMP message that is no error it translates", $"type {type}");
        var before = ReferenceDecoder.QuoteLayout(o.Input, quoteIp, quoteIhl);
        var after = ReferenceDecoder.QuoteLayout(wire, quoteIp, quoteIhl);
        if (before.Protocol is not (ReferenceDecoder.Tcp or ReferenceDecoder.Udp)) return new("NAT: translated an ICMP error quoting neither TCP nor UDP", $"protocol {before.Protocol}");
        Allowed.Add(input.L4 + 2, 2).Add(quoteIp + 10, 2);
        var quoteChecksum = quoteL4 + ReferenceDecoder.ChecksumFieldOffset(before.Protocol);
        if (quoteChecksum + 2 <= input.End) Allowed.Add(quoteChecksum, 2);
        var toBackend = o.Meta.EgressInterface == NatWorld.Back;
        if (toBackend) IcmpToBackend++;
        else IcmpToClient++;
        if (toBackend)
        {
            // From the client side, about a reply we sent as VIP:port: the quote's source becomes the backend's.
            if (MacAddress.Read(wire) != World.BackendMac || MacAddress.Read(wire[6..]) != World.BackMac)
                return new("NAT: ICMP error to the backend with wrong MACs", $"{Mac(wire, 0)} <- {Mac(wire, 6)}");
            var port = BinaryPrimitives.ReadUInt16BigEndian(wire[quoteL4..]);
            if (after.Source != World.Backend || port != World.BackendPort(before.Protocol))
                return new("NAT: ICMP error to the backend quotes the wrong source", $"{Ip(after.Source)}:{port}");
            if (output.Destination != World.Backend) return new("NAT: ICMP error to the backend not addressed to it", Ip(output.Destination));
            Allowed.Add(input.L3 + 16, 4).Add(quoteIp + 12, 4).Add(quoteL4, 2);
        }
        else
        {
            // From the backend side, about a packet we sent to the backend: the quote's destination becomes VIP:port.
            if (MacAddress.Read(wire[6..]) != World.FrontMac) return new("NAT: ICMP error to the client with the wrong source MAC", Mac(wire, 6));
            var port = BinaryPrimitives.ReadUInt16BigEndian(wire[(quoteL4 + 2)..]);
            if (after.Destination != World.Vip || port != World.ServicePort(before.Protocol))
                return new("NAT: ICMP error to the client quotes the wrong destination", $"{Ip(after.Destination)}:{port}");
            var source = input.Source == World.Backend ? World.Vip : input.Source;
            if (output.Source != source) return new("NAT: ICMP error to the client from the wrong source", $"{Ip(output.Source)} (input from {Ip(input.Source)})");
            Allowed.Add(input.L3 + 12, 4).Add(quoteIp + 16, 4).Add(quoteL4 + 2, 2);
        }
        if (OnlyAllowedChanged(o.Input, wire, "ICMP error translation") is { } f) return f;
        if (!coherent) return null;
        if (ReferenceDecoder.HeaderChecksumValid(o.Input, before) && !ReferenceDecoder.HeaderChecksumValid(wire, after))
            return new("NAT: a quoted IPv4 header's valid checksum became invalid", "");
        // The quoted segment's checksum can be judged only when all of it is quoted.
        if (before.End <= input.End && before.TotalLength >= before.HeaderLength)
        {
            var sumBefore = ReferenceDecoder.FullL4(o.Input, before);
            var sumAfter = ReferenceDecoder.FullL4(wire, after);
            if (sumBefore == L4Sum.Valid && sumAfter != L4Sum.Valid) return new("NAT: a quoted segment's valid checksum became invalid", $"{sumAfter} after");
        }
        return null;
    }

    /// <summary>The answer to a datagram too big for the back side, compared byte for byte with one built here
    /// (RFC 1191: type 3 code 4 with the next-hop MTU, the datagram's IP header and first 8 bytes quoted).</summary>
    private Finding? FragmentationNeeded(in Outcome o, ReadOnlySpan<byte> wire, in Ipv4Layout input)
    {
        if (o.Drop != DropReason.MtuExceeded) return new("NAT: an ICMP error built without counting mtu_exceeded", $"counted {o.Drop}");
        if (o.Meta.EgressInterface != NatWorld.Front) return new("NAT: fragmentation-needed not sent back to the client side", $"egress {o.Meta.EgressInterface}");
        if (o.Meta.Vnet.Flags != 0 || o.Meta.Vnet.GsoType != 0) return new("NAT: fragmentation-needed sent with vnet offloads", $"flags {o.Meta.Vnet.Flags} gso {o.Meta.Vnet.GsoType}");
        var segment = SegmentLength(o.Input, input, o.InputMeta);
        if (segment <= World.BackMtu) return new("NAT: fragmentation-needed for a datagram that fits", $"{segment} bytes, MTU {World.BackMtu}");
        if (!input.DontFragment && !IsGso(o.InputMeta)) return new("NAT: fragmentation-needed without DF", $"{segment} bytes");
        var quote = input.HeaderLength + 8;
        var total = 20 + 8 + quote;
        var e = _expected.AsSpan(0, 14 + total);
        e.Clear();
        o.Input[6..12].CopyTo(e);
        World.FrontMac.Write(e[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(e[12..], 0x0800);
        var ip = e[14..];
        ip[0] = 0x45;
        ip[1] = 0xC0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)total);
        ip[8] = 64;
        ip[9] = ReferenceDecoder.Icmp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], World.FrontAddress);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], input.Source);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], ReferenceChecksum.Compute(ip[..20]));
        var icmp = ip[20..];
        icmp[0] = 3;
        icmp[1] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)World.BackMtu);
        o.Input.Slice(input.L3, quote).CopyTo(icmp[8..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], ReferenceChecksum.Compute(icmp));
        if (!wire.SequenceEqual(e))
            return new("NAT: fragmentation-needed differs from RFC 1191's", $"sent {FrameBuilder.Hex(wire)}, expected {FrameBuilder.Hex(e)}");
        return null;
    }

    public override Finding? CheckDrop(in Outcome o)
    {
        if (o.Drop != DropReason.MtuExceeded) return null;
        if (ReferenceDecoder.TryDecode(o.Input, out var input) is { } bad) return new("NAT: mtu_exceeded for a frame that is not IPv4", bad);
        var segment = SegmentLength(o.Input, input, o.InputMeta);
        if (segment <= World.BackMtu) return new("NAT: mtu_exceeded for a datagram that fits", $"{segment} bytes, MTU {World.BackMtu}");
        // Not answered, rightly: the source had an answer too recently, or the answer (IP header, ICMP header, the
        // quoted header and 8 bytes) does not fit in the received frame, where it is built.
        var noRoom = 14 + 20 + 8 + input.HeaderLength + 8 > o.Input.Length || input.L3 + input.HeaderLength + 8 > o.Input.Length;
        if ((input.DontFragment || IsGso(o.InputMeta)) && !o.IcmpRateLimited && !noRoom)
            return new("NAT: dropped a DF datagram too big without answering", $"{segment} bytes, MTU {World.BackMtu}");
        return null;
    }

    /// <summary>How much IP one packet of this frame is on the wire: its total length, or for GSO one segment's
    /// (headers and the segment size).</summary>
    private static int SegmentLength(ReadOnlySpan<byte> frame, in Ipv4Layout v, in FrameMeta meta)
    {
        if (!IsGso(meta)) return v.TotalLength;
        var l4Header = v.Protocol == ReferenceDecoder.Tcp && v.PayloadLength >= 20 ? (frame[v.L4 + 12] >> 4) * 4 : 8;
        return v.HeaderLength + l4Header + meta.Vnet.GsoSize;
    }
}
