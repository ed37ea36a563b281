using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>What an ARP did to the neighbour table.</summary>
public enum NeighborUpdate : byte
{
    /// <summary>Not about a neighbour of ours, or it said what we already hold.</summary>
    None,
    /// <summary>An answer to our request confirmed the MAC we hold.</summary>
    Confirmed,
    /// <summary>An answer to our request gave a first or a different MAC, now held.</summary>
    Changed,
    /// <summary>It claimed a neighbour's address with another MAC and was not taken: unsolicited, not an answer to
    /// a request of ours still open, or a broadcast, multicast or zero MAC.</summary>
    Refused,
}

/// <summary>Backend MAC addresses, learned by ARP or given in the config. One table shared by all
/// workers. A MAC is learned only from a unicast answer to a request of ours made within
/// <see cref="AnswerWindowMs"/>, as a host's own ARP cache would take it: anyone else on the segment claiming a
/// backend's address (ARP poisoning, a misconfigured host, a zero MAC that would black-hole its flows) is refused. Each MAC is one 64-bit slot written with <see cref="Volatile.Write(ref long, long)"/> so a
/// reader sees either the old or the new address, never a torn one, without locks.
/// Slots are registered by the control plane before the data path starts reading them.</summary>
public sealed class NeighborTable
{
    public const int Capacity = 4096;

    private readonly long[] _macs = new long[Capacity];
    private readonly uint[] _addresses = new uint[Capacity];
    private readonly int[] _interfaces = new int[Capacity];
    private readonly bool[] _static = new bool[Capacity];
    private readonly long[] _updatedAtMs = new long[Capacity];
    private readonly long[] _askedAtMs = new long[Capacity];
    private readonly bool[] _asked = new bool[Capacity];

    /// <summary>How long after a request of ours an answer to it is taken.</summary>
    public const long AnswerWindowMs = 2000;
    private int _count;
    private readonly object _registerLock = new();

    public int Count => Volatile.Read(ref _count);

    public int Register(int interfaceIndex, uint address, MacAddress? staticMac)
    {
        lock (_registerLock)
        {
            for (var i = 0; i < _count; i++)
                if (_addresses[i] == address && _interfaces[i] == interfaceIndex)
                {
                    if (staticMac is { } m)
                    {
                        _static[i] = true;
                        Volatile.Write(ref _macs[i], (long)m.Value);
                    }
                    return i;
                }
            if (_count == Capacity) throw new InvalidOperationException($"more than {Capacity} backend addresses");
            var n = _count;
            _addresses[n] = address;
            _interfaces[n] = interfaceIndex;
            _static[n] = staticMac.HasValue;
            _macs[n] = staticMac is { } mac ? (long)mac.Value : 0;
            // Publish the count last: readers never look at a slot before it is filled.
            Volatile.Write(ref _count, n + 1);
            return n;
        }
    }

    public MacAddress Mac(int index) => new((ulong)Volatile.Read(ref _macs[index]));
    public uint Address(int index) => _addresses[index];
    public int Interface(int index) => _interfaces[index];
    public bool IsStatic(int index) => _static[index];
    public long UpdatedAtMs(int index) => Volatile.Read(ref _updatedAtMs[index]);

    /// <summary>A request for slot <paramref name="index"/>'s address went out: an answer may now be taken. Called by
    /// the ARP thread of the slot's interface, the only one that learns into it.</summary>
    public void Asked(int index, long nowMs)
    {
        _askedAtMs[index] = nowMs;
        _asked[index] = true;
    }

    /// <summary>An ARP from <paramref name="address"/> saying it is at <paramref name="mac"/>.
    /// <paramref name="answersUs"/>: it is a reply addressed to us (our MAC and address). Static entries never
    /// change. <paramref name="previous"/> is the MAC held before.</summary>
    public NeighborUpdate Learn(int interfaceIndex, uint address, MacAddress mac, long nowMs, bool answersUs, out MacAddress previous)
    {
        previous = MacAddress.Zero;
        var count = Count;
        for (var i = 0; i < count; i++)
        {
            if (_addresses[i] != address || _interfaces[i] != interfaceIndex || _static[i]) continue;
            previous = Mac(i);
            var open = _asked[i] && nowMs - _askedAtMs[i] <= AnswerWindowMs;
            // A MAC no host can have is refused whoever says it; otherwise only what would change the MAC we hold
            // counts as refused: a backend's own request before we resolved it is only not taken (our answer will come).
            if (mac.IsZero || mac.IsMulticast) return NeighborUpdate.Refused;
            if (!answersUs || !open) return previous == mac || previous.IsZero ? NeighborUpdate.None : NeighborUpdate.Refused;
            _asked[i] = false;
            Volatile.Write(ref _macs[i], (long)mac.Value);
            Volatile.Write(ref _updatedAtMs[i], nowMs);
            return previous == mac ? NeighborUpdate.Confirmed : NeighborUpdate.Changed;
        }
        return NeighborUpdate.None;
    }
}
