using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>The distinct interfaces the engine uses, each with a small index (the "interface" of
/// <c>FrameMeta.IngressInterface</c>, <c>ServiceSnapshot.EgressInterface</c> and friends; not the kernel's
/// ifindex), its MAC, its own IPv4 and IPv6 addresses and its MTU. Filled by the composition root before the data path
/// starts; read-only afterwards.</summary>
public sealed class InterfacePlan
{
    private readonly List<string> _names = new();
    private readonly List<MacAddress> _macs = new();
    private readonly List<uint> _addresses = new();
    private readonly List<int> _mtus = new();
    private readonly List<UInt128> _addresses6 = new();

    public int Add(string name, MacAddress mac, uint address, int mtu = 1500, UInt128 address6 = default)
    {
        var i = _names.IndexOf(name);
        if (i >= 0) return i;
        _names.Add(name);
        _macs.Add(mac);
        _addresses.Add(address);
        _mtus.Add(mtu);
        _addresses6.Add(address6);
        return _names.Count - 1;
    }

    public int IndexOf(string name)
    {
        var i = _names.IndexOf(name);
        return i >= 0 ? i : throw new InvalidOperationException($"interface {name} is not part of the plan");
    }

    public int Count => _names.Count;
    public bool Contains(string name) => _names.Contains(name);
    public string Name(int index) => _names[index];
    public MacAddress Mac(int index) => _macs[index];
    /// <summary>The interface's own IPv4 address (0 if it has none): the sender of ARP requests, and the
    /// source of the ICMP errors NAT builds.</summary>
    public uint Address(int index) => _addresses[index];
    /// <summary>The interface's own IPv6 address (a global one if it has one, else its link-local one; 0 if none): the
    /// source of our neighbour solicitations, where their answers come back to.</summary>
    public UInt128 Address6(int index) => _addresses6[index];
    /// <summary>The interface's MTU: NAT answers larger frames with fragmentation-needed.</summary>
    public int Mtu(int index) => _mtus[index];
}
