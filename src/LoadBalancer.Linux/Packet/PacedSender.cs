using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Linux.Packet;

public sealed record PacedSenderOptions
{
    public required string Interface { get; init; }
    public required MacAddress DestinationMac { get; init; }
    /// <summary>IPv4 or IPv6; the destinations are of the same family.</summary>
    public required IPAddress Source { get; init; }
    public required IReadOnlyList<IPAddress> Destinations { get; init; }
    public ushort DestinationPort { get; init; } = 9;
    public int Flows { get; init; } = 1020;
    /// <summary>Frame size on the wire including the 4-byte FCS, as RFC 2544 counts it: 64..1518 for IPv4,
    /// <see cref="PacedSender.SmallestIpv6Frame"/>..1518 for IPv6.</summary>
    public int FrameSize { get; init; } = 64;
    public long RatePps { get; init; } = 100_000;
    public double DurationSeconds { get; init; } = 2;
    public int Batch { get; init; } = 16;
}

public sealed record PacedSenderResult(long Offered, long Sent, long Refused, double ElapsedSeconds);

/// <summary>A lab traffic generator: UDP frames over many flows (distinct source ports), sent with
/// sendmmsg (the engine's <see cref="AfPacketTransmitter"/>) in small batches at a steady rate (each batch waits for its slot on a spin clock, so the
/// rate is even rather than bursty). Offered load is what the schedule asked for; a sender that
/// falls behind shows it as Sent &lt; Offered instead of hiding it. IPv4 or IPv6, one family a run.</summary>
public static unsafe class PacedSender
{
    public const int LargestFrame = 1518;
    public const int SmallestIpv4Frame = 64;
    /// <summary>Ethernet, the 40-byte IPv6 header, an empty UDP datagram and the FCS: 66, so an IPv6 run cannot
    /// offer the 64-byte frames an IPv4 run does; it is refused rather than quietly sent larger.</summary>
    public const int SmallestIpv6Frame = EthernetFrame.HeaderLength + Ipv6Packet.HeaderLength + UdpDatagram.HeaderLength + FcsLength;

    private const int Ipv4HeaderLength = 20;
    private const int FcsLength = 4;

    public static int SmallestFrame(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? SmallestIpv6Frame : SmallestIpv4Frame;

    public static PacedSenderResult Run(PacedSenderOptions o, CancellationToken stop = default)
    {
        var family = o.Source.AddressFamily;
        if (family is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            throw new ArgumentOutOfRangeException(nameof(o), $"source {o.Source} is neither IPv4 nor IPv6");
        if (o.Destinations.FirstOrDefault(d => d.AddressFamily != family) is { } other)
            throw new ArgumentOutOfRangeException(nameof(o), $"destination {other} is not of the source's family ({o.Source})");
        var smallest = SmallestFrame(family);
        if (o.FrameSize < smallest || o.FrameSize > LargestFrame)
            throw new ArgumentOutOfRangeException(nameof(o), $"frame size must be {smallest}..{LargestFrame} for {(family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")}");
        if (o.Flows < 1 || o.Destinations.Count == 0 || o.RatePps <= 0 || o.Batch < 1 || o.Batch > AfPacketTransmitter.BatchSize)
            throw new ArgumentOutOfRangeException(nameof(o), $"flows, destinations and rate must be positive, batch 1..{AfPacketTransmitter.BatchSize}");
        var link = Kernel.LinkInfo.Read(o.Interface);
        using var transmitter = AfPacketTransmitter.Open(o.Interface, vnet: false);

        var frameLength = o.FrameSize - FcsLength;
        var frames = o.Flows * o.Destinations.Count;
        var stride = (frameLength + 63) & ~63;
        var memory = (byte*)NativeMemory.AllocZeroed((nuint)(stride * frames));
        try
        {
            for (var i = 0; i < frames; i++)
                BuildFrame(new Span<byte>(memory + (long)i * stride, frameLength), o.DestinationMac, link.Mac, o.Source,
                    o.Destinations[i % o.Destinations.Count], (ushort)(10_000 + i / o.Destinations.Count), o.DestinationPort);

            var total = (long)(o.RatePps * o.DurationSeconds);
            var ticksPerFrame = (double)Stopwatch.Frequency / o.RatePps;
            long sent = 0, refused = 0, next = 0;
            var start = Stopwatch.GetTimestamp();
            // The schedule ends at the deadline: a sender that fell behind stops with Sent < Offered,
            // so its shortfall counts as loss instead of being delivered late.
            var deadline = start + (long)(o.DurationSeconds * Stopwatch.Frequency);
            while (next < total && !stop.IsCancellationRequested)
            {
                var due = start + (long)(next * ticksPerFrame);
                long now;
                while ((now = Stopwatch.GetTimestamp()) < due) Thread.SpinWait(8);
                if (now > deadline) break;
                var n = (int)Math.Min(o.Batch, total - next);
                for (var k = 0; k < n; k++)
                    transmitter.Enqueue(new Span<byte>(memory + (next + k) % frames * stride, frameLength), default);
                refused += transmitter.Flush();
                sent += n;
                next += n;
            }
            var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return new PacedSenderResult(total, sent - refused, refused, elapsed);
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }

    /// <summary>One test frame filling <paramref name="frame"/> (the frame size less the FCS): Ethernet, an IPv4 or IPv6
    /// header (as the addresses are), UDP with a correct checksum over the family's pseudo header, and a zero payload.</summary>
    internal static void BuildFrame(Span<byte> frame, MacAddress destinationMac, MacAddress sourceMac, IPAddress source,
        IPAddress destination, ushort sourcePort, ushort destinationPort)
    {
        destinationMac.Write(frame);
        sourceMac.Write(frame[6..]);
        var ip = frame[EthernetFrame.HeaderLength..];
        Span<byte> udp;
        uint pseudoHeader;
        if (source.AddressFamily == AddressFamily.InterNetworkV6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Ipv6);
            var (from, to) = (Ipv6.ToUInt128(source), Ipv6.ToUInt128(destination));
            udp = ip[Ipv6Packet.HeaderLength..];
            ip[0] = 0x60; // version 6, traffic class and flow label 0
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)udp.Length);
            ip[6] = IpProtocols.Udp;
            ip[7] = 64;
            Ipv6.Write(ip[8..], from);
            Ipv6.Write(ip[24..], to);
            pseudoHeader = Checksum.PseudoHeaderSum(from, to, IpProtocols.Udp, udp.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Ipv4);
            var (from, to) = (Ipv4.ToUInt32(source), Ipv4.ToUInt32(destination));
            udp = ip[Ipv4HeaderLength..];
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ip.Length);
            ip[8] = 64;
            ip[9] = IpProtocols.Udp;
            BinaryPrimitives.WriteUInt32BigEndian(ip[12..], from);
            BinaryPrimitives.WriteUInt32BigEndian(ip[16..], to);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..Ipv4HeaderLength]));
            pseudoHeader = Checksum.PseudoHeaderSum(from, to, IpProtocols.Udp, udp.Length);
        }
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udp.Length);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);
        var value = Checksum.Compute(udp, pseudoHeader);
        // 0 in UDP means "no checksum" (and IPv6 forbids it): a computed 0 is sent as 0xFFFF.
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], value == 0 ? (ushort)0xFFFF : value);
    }
}
