using LoadBalancer.Core.Packets;

namespace LoadBalancer.Hosting;

/// <summary>Control-plane log lines on stderr, one event per line with a UTC timestamp. The data plane
/// never logs; it counts.</summary>
public sealed class EngineLog(TextWriter writer)
{
    private readonly object _gate = new();

    public void Info(string message) => Write("info", message);
    public void Warn(string message) => Write("warning", message);
    public void Error(string message) => Write("error", message);

    /// <summary>A neighbour's MAC was learned (<paramref name="previous"/> zero) or changed: every change is logged,
    /// since a backend MAC that moves is either a replaced server or someone taking its traffic.</summary>
    public void NeighborLearned(string interfaceName, ReadOnlySpan<byte> arpFrame, MacAddress previous)
    {
        if (EthernetFrame.TryParse(arpFrame.ToArray(), out var eth) != DropReason.None) return;
        if (ArpPacket.TryParse(eth.Payload, out var arp) != DropReason.None) return;
        if (previous.IsZero) Info($"neighbor {Ipv4.Format(arp.SenderProtocolAddress)} is {arp.SenderHardwareAddress} on {interfaceName}");
        else Warn($"neighbor {Ipv4.Format(arp.SenderProtocolAddress)} changed from {previous} to {arp.SenderHardwareAddress} on {interfaceName}");
    }

    private void Write(string level, string message)
    {
        lock (_gate)
        {
            writer.WriteLine($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {level} {message}");
            writer.Flush();
        }
    }
}
