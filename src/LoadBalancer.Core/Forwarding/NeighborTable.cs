using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>What an ARP or neighbour discovery frame did to the neighbour table.</summary>
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

/// <summary>Backend MAC addresses, learned by ARP (IPv4) or neighbour discovery (IPv6) or given in the config. One table shared by all
/// workers. A MAC is learned only from a unicast answer to a request of ours made within
/// <see cref="AnswerWindowMs"/>, as a host's own ARP cache would take it: anyone else on the segment claiming a
/// backend's address (ARP poisoning, a misconfigured host, a zero MAC that would black-hole its flows) is refused. Each MAC is one 64-bit slot written with <see cref="Volatile.Write(ref long, long)"/> so a
/// reader sees either the old or the new address, never a torn one, without locks.
/// Slots are registered by the control plane before the data path starts reading them.</summary>
public sealed class NeighborTable
{
    public const int Capacity = 4096;

    private readonly long[] _macs = new long[Capacity];
    // IPv4 addresses are held IPv4-mapped (::ffff:a.b.c.d), so one array and one search serve both families.
    private readonly UInt128[] _addresses = new UInt128[Capacity];
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

    private static readonly UInt128 MappedPrefix = (UInt128)0xFFFF << 32;

    private static UInt128 Mapped(uint address) => MappedPrefix | address;

    public int Register(int interfaceIndex, uint address, MacAddress? staticMac) => Register(interfaceIndex, Mapped(address), staticMac);

    /// <summary>An IPv6 neighbour (resolved by solicitation; see <see cref="Learn6"/>).</summary>
    public int Register6(int interfaceIndex, UInt128 address, MacAddress? staticMac) => Register(interfaceIndex, address, staticMac);

    private int Register(int interfaceIndex, UInt128 address, MacAddress? staticMac)
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
    /// <summary>The IPv4 address of slot <paramref name="index"/> (meaningless for an IPv6 slot: see <see cref="IsIpv6"/>).</summary>
    public uint Address(int index) => (uint)_addresses[index];
    public UInt128 Address6(int index) => _addresses[index];
    public bool IsIpv6(int index) => (_addresses[index] >> 32) != 0xFFFF;
    public int Interface(int index) => _interfaces[index];
    public bool IsStatic(int index) => _static[index];
    public long UpdatedAtMs(int index) => Volatile.Read(ref _updatedAtMs[index]);

    /// <summary>A request for slot <paramref name="index"/>'s address went out: an answer may now be taken. Called by
    /// the ARP (IPv4) or neighbour discovery (IPv6) thread of the slot's interface, the only one that learns into it.</summary>
    public void Asked(int index, long nowMs)
    {
        _askedAtMs[index] = nowMs;
        _asked[index] = true;
    }

    /// <summary>An ARP from <paramref name="address"/> saying it is at <paramref name="mac"/>.
    /// <paramref name="answersUs"/>: it is a reply addressed to us (our MAC and address). Static entries never
    /// change. <paramref name="previous"/> is the MAC held before.</summary>
    public NeighborUpdate Learn(int interfaceIndex, uint address, MacAddress mac, long nowMs, bool answersUs, out MacAddress previous) =>
        Learn(interfaceIndex, Mapped(address), mac, nowMs, answersUs, out previous);

    /// <summary>A neighbour advertisement from <paramref name="address"/> saying it is at <paramref name="mac"/>; the
    /// same rules as ARP (<paramref name="answersUs"/>: a solicited advertisement, unicast to us).</summary>
    public NeighborUpdate Learn6(int interfaceIndex, UInt128 address, MacAddress mac, long nowMs, bool answersUs, out MacAddress previous) =>
        Learn(interfaceIndex, address, mac, nowMs, answersUs, out previous);

    private NeighborUpdate Learn(int interfaceIndex, UInt128 address, MacAddress mac, long nowMs, bool answersUs, out MacAddress previous)
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
