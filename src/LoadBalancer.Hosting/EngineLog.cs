using LoadBalancer.Core.Packets;

namespace LoadBalancer.Hosting;

/// <summary>Control-plane log lines on stderr, one event per line with a UTC timestamp. The data plane
/// never logs; it counts. With <paramref name="journal"/> (stderr is the journal: <c>JOURNAL_STREAM</c>, see
/// sd-daemon(3)) each line starts with its syslog priority, <c>&lt;3&gt;</c>, <c>&lt;4&gt;</c> or <c>&lt;6&gt;</c>,
/// which journald takes off and keeps as the entry's priority; without it the lines are as they always were.</summary>
public sealed class EngineLog(TextWriter writer, bool journal = false)
{
    private readonly object _gate = new();

    /// <summary>Whether lines carry their syslog priority (stderr is the journal).</summary>
    public bool Journal => journal;

    public void Info(string message) => Write(LogPriority.Info, "info", message);
    public void Warn(string message) => Write(LogPriority.Warning, "warning", message);
    public void Error(string message) => Write(LogPriority.Error, "error", message);

    /// <summary>A backend going down (unhealthy, soft-stopped): an event like the other health changes, so the line
    /// says <c>info</c> as they do, but in the journal it is a warning, the one an operator filters for
    /// (<c>journalctl -p warning</c>).</summary>
    public void BackendDown(string message) => Write(LogPriority.Warning, "info", message);

    /// <summary>A line as it is, without timestamp or level word (<c>FILE:LINE: message</c>, as <c>lb check</c>
    /// prints it); in the journal with <paramref name="priority"/>, on each line of it should it hold several (journald
    /// makes an entry of every line).</summary>
    public void Line(LogPriority priority, string line)
    {
        if (journal)
        {
            var prefix = $"<{(int)priority}>";
            line = prefix + line.Replace("\n", "\n" + prefix, StringComparison.Ordinal);
        }
        lock (_gate)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }

    /// <summary>A neighbour's MAC was learned (<paramref name="previous"/> zero) or changed: every change is logged,
    /// since a backend MAC that moves is either a replaced server or someone taking its traffic.</summary>
    public void NeighborLearned(string interfaceName, ReadOnlySpan<byte> arpFrame, MacAddress previous)
    {
        if (EthernetFrame.TryParse(arpFrame.ToArray(), out var eth) != DropReason.None) return;
        if (ArpPacket.TryParse(eth.Payload, out var arp) != DropReason.None) return;
        NeighborLearned(interfaceName, Ipv4.Format(arp.SenderProtocolAddress), arp.SenderHardwareAddress, previous);
    }

    /// <summary>The same for an IPv6 neighbour, learned by neighbour discovery.</summary>
    public void NeighborLearned(string interfaceName, UInt128 address, MacAddress mac, MacAddress previous) =>
        NeighborLearned(interfaceName, Ipv6.Format(address), mac, previous);

    private void NeighborLearned(string interfaceName, string address, MacAddress mac, MacAddress previous)
    {
        if (previous.IsZero) Info($"neighbor {address} is {mac} on {interfaceName}");
        else Warn($"neighbor {address} changed from {previous} to {mac} on {interfaceName}");
    }

    private void Write(LogPriority priority, string level, string message) =>
        Line(priority, $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {level} {message}");
}

/// <summary>syslog(3)'s priorities, the numbers in a journal line's <c>&lt;N&gt;</c> prefix.</summary>
public enum LogPriority
{
    Error = 3,
    Warning = 4,
    Info = 6,
}
