using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Linux.Packet;

public sealed record PacedSenderOptions
{
    public required string Interface { get; init; }
    public required MacAddress DestinationMac { get; init; }
    public required uint Source { get; init; }
    public required IReadOnlyList<uint> Destinations { get; init; }
    public ushort DestinationPort { get; init; } = 9;
    public int Flows { get; init; } = 1020;
    /// <summary>Frame size on the wire including the 4-byte FCS, as RFC 2544 counts it (64..1518).</summary>
    public int FrameSize { get; init; } = 64;
    public long RatePps { get; init; } = 100_000;
    public double DurationSeconds { get; init; } = 2;
    public int Batch { get; init; } = 16;
}

public sealed record PacedSenderResult(long Offered, long Sent, long Refused, double ElapsedSeconds);

/// <summary>A lab traffic generator: UDP frames over many flows (distinct source ports), sent with
/// sendmmsg (the engine's <see cref="AfPacketTransmitter"/>) in small batches at a steady rate (each batch waits for its slot on a spin clock, so the
/// rate is even rather than bursty). Offered load is what the schedule asked for; a sender that
/// falls behind shows it as Sent &lt; Offered instead of hiding it.</summary>
public static unsafe class PacedSender
{
    public static PacedSenderResult Run(PacedSenderOptions o, CancellationToken stop = default)
    {
        if (o.FrameSize is < 64 or > 1518) throw new ArgumentOutOfRangeException(nameof(o), "frame size must be 64..1518");
        if (o.Flows < 1 || o.Destinations.Count == 0 || o.RatePps <= 0 || o.Batch < 1 || o.Batch > AfPacketTransmitter.BatchSize)
            throw new ArgumentOutOfRangeException(nameof(o), $"flows, destinations and rate must be positive, batch 1..{AfPacketTransmitter.BatchSize}");
        var link = Kernel.LinkInfo.Read(o.Interface);
        using var transmitter = AfPacketTransmitter.Open(o.Interface, vnet: false);

        var frameLength = o.FrameSize - 4;
        var frames = o.Flows * o.Destinations.Count;
        var stride = (frameLength + 63) & ~63;
        var memory = (byte*)NativeMemory.AllocZeroed((nuint)(stride * frames));
        try
        {
            for (var i = 0; i < frames; i++)
                Build(new Span<byte>(memory + (long)i * stride, frameLength), o, link.Mac, o.Destinations[i % o.Destinations.Count],
                    (ushort)(10_000 + i / o.Destinations.Count));

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

    private static void Build(Span<byte> frame, PacedSenderOptions o, MacAddress source, uint destination, ushort sourcePort)
    {
        o.DestinationMac.Write(frame);
        source.Write(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Ipv4);
        var ip = frame[14..];
        var ipLength = frame.Length - 14;
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ipLength);
        ip[8] = 64;
        ip[9] = IpProtocols.Udp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], o.Source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destination);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        var udp = ip[20..];
        var udpLength = ipLength - 20;
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], o.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        var sum = Checksum.Add(udp[..udpLength], Checksum.PseudoHeaderSum(o.Source, destination, IpProtocols.Udp, udpLength));
        var value = (ushort)~Checksum.Fold(sum);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], value == 0 ? (ushort)0xFFFF : value);
    }
}
