namespace LoadBalancer.Core.Forwarding;

/// <summary>Everything the data path reads, swapped whole. Never mutated after publication.</summary>
public sealed class DataPlaneSnapshot
{
    public required long Version { get; init; }
    public required uint HashSeed { get; init; }
    /// <summary>Every service, both families. The packet path looks a frame up among its own family's only
    /// (<see cref="Ipv4Services"/>, <see cref="Ipv6Services"/>), so an IPv4 lookup never compares an IPv6 service.</summary>
    public required ServiceSnapshot[] Services
    {
        get => _services;
        init
        {
            _services = value;
            _ipv4 = Array.FindAll(value, s => !s.IsIpv6);
            _ipv6 = Array.FindAll(value, s => s.IsIpv6);
        }
    }

    private readonly ServiceSnapshot[] _services = [];
    private readonly ServiceSnapshot[] _ipv4 = [];
    private readonly ServiceSnapshot[] _ipv6 = [];

    public ServiceSnapshot[] Ipv4Services => _ipv4;
    public ServiceSnapshot[] Ipv6Services => _ipv6;
    public bool HasIpv6 => _ipv6.Length != 0;
    /// <summary>Per interface index, the path for frames not to a VIP that a mode expects there (NAT replies on
    /// its backend side), or null. Shorter than the interface plan where the last interfaces have none.</summary>
    public IReplyPath?[] ReplyPaths { get; init; } = [];
    /// <summary>Set when some mode translates ICMP errors (NAT); otherwise ICMP is the kernel's.</summary>
    public IIcmpErrorPath? IcmpErrors { get; init; }

    /// <summary>Position in <see cref="Services"/> by stable id (<see cref="ServiceSnapshot.Id"/>), -1 where the id
    /// is not (or no longer) a service.</summary>
    public int[] ServiceSlotById { get; init; } = [];

    /// <summary>The service a session or a synced entry names by id, or null when a reload removed it.</summary>
    public ServiceSnapshot? ServiceById(int id) =>
        (uint)id < (uint)ServiceSlotById.Length && ServiceSlotById[id] >= 0 ? Services[ServiceSlotById[id]] : null;

    public ServiceSnapshot? FindService(uint vip, byte protocol, ushort port)
    {
        // Linear scan: a balancer has few services and this beats hashing below ~16 of them.
        foreach (var s in _ipv4)
            if (s.Vip == vip && s.Port == port && s.Protocol == protocol) return s;
        return null;
    }

    /// <summary>The service of VIP:port/protocol served on interface <paramref name="ingressInterface"/>: a frame is
    /// matched to a service only where it is served.</summary>
    public ServiceSnapshot? FindService(uint vip, byte protocol, ushort port, int ingressInterface)
    {
        foreach (var s in _ipv4)
            if (s.Vip == vip && s.Port == port && s.Protocol == protocol && s.IngressInterface == ingressInterface) return s;
        return null;
    }

    public bool IsVipOn(uint address, int ingressInterface)
    {
        foreach (var s in _ipv4)
            if (s.Vip == address && s.IngressInterface == ingressInterface) return true;
        return false;
    }

    public IReplyPath? RepliesOn(int interfaceIndex) =>
        (uint)interfaceIndex < (uint)ReplyPaths.Length ? ReplyPaths[interfaceIndex] : null;

    public bool IsVip(uint address)
    {
        foreach (var s in _ipv4)
            if (s.Vip == address) return true;
        return false;
    }

    /// <summary>The IPv6 service of VIP:port/protocol served on <paramref name="ingressInterface"/>.</summary>
    public ServiceSnapshot? FindService6(UInt128 vip, byte protocol, ushort port, int ingressInterface)
    {
        foreach (var s in _ipv6)
            if (s.Vip6 == vip && s.Port == port && s.Protocol == protocol && s.IngressInterface == ingressInterface) return s;
        return null;
    }

    public bool IsVip6On(UInt128 address, int ingressInterface)
    {
        foreach (var s in _ipv6)
            if (s.Vip6 == address && s.IngressInterface == ingressInterface) return true;
        return false;
    }

}

/// <summary>Holds the current snapshot. Workers take <see cref="Current"/> once per batch (every frame of a
/// batch sees the same one); the control plane publishes a complete new snapshot with one reference write.</summary>
public sealed class DataPlaneState(DataPlaneSnapshot initial)
{
    // volatile: the publishing write must not be reordered before the snapshot's construction,
    // and readers must see the newest reference without locks.
    private volatile DataPlaneSnapshot _current = initial;

    public DataPlaneSnapshot Current => _current;

    public void Publish(DataPlaneSnapshot snapshot) => _current = snapshot;
}
