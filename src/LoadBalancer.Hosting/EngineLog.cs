using LoadBalancer.Core.Packets;

namespace LoadBalancer.Hosting;

/// <summary>Control-plane log lines on stderr, one event per line with a UTC timestamp. The data plane
/// never logs; it counts.</summary>
public sealed class EngineLog(TextWriter writer)
{
    private readonly object _gate = new();
    private readonly HashSet<(string, uint, ulong)> _seenNeighbors = new();

    public void Info(string message) => Write("info", message);
    public void Error(string message) => Write("error", message);

    public void NeighborLearned(string interfaceName, ReadOnlySpan<byte> arpFrame)
    {
        if (EthernetFrame.TryParse(arpFrame.ToArray(), out var eth) != DropReason.None) return;
        if (ArpPacket.TryParse(eth.Payload, out var arp) != DropReason.None) return;
        var key = (interfaceName, arp.SenderProtocolAddress, arp.SenderHardwareAddress.Value);
        lock (_gate)
            if (!_seenNeighbors.Add(key)) return;
        Info($"neighbor {Ipv4.Format(arp.SenderProtocolAddress)} is {arp.SenderHardwareAddress} on {interfaceName}");
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
