using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>Backend MAC addresses, learned by ARP or given in the config. One table shared by all
/// workers. Each MAC is one 64-bit slot written with <see cref="Volatile.Write(ref long, long)"/> so a
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

    /// <summary>Records an ARP-learned address. Static entries never change.</summary>
    public bool Learn(int interfaceIndex, uint address, MacAddress mac, long nowMs)
    {
        var learned = false;
        var count = Count;
        for (var i = 0; i < count; i++)
        {
            if (_addresses[i] != address || _interfaces[i] != interfaceIndex || _static[i]) continue;
            Volatile.Write(ref _macs[i], (long)mac.Value);
            Volatile.Write(ref _updatedAtMs[i], nowMs);
            learned = true;
        }
        return learned;
    }
}
