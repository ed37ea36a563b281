using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Forwarding;

/// <summary>A backend as the data path sees it in one snapshot. Immutable.</summary>
public sealed class BackendSnapshot
{
    /// <summary>Stable across snapshots for the same service and backend name; flow entries store it.</summary>
    public required int Id { get; init; }
    public required string Name { get; init; }
    /// <summary>IPv4: the backend's address; 0 for an IPv6 backend (see <see cref="Address6"/>).</summary>
    public required uint Address { get; init; }
    /// <summary>IPv6: the backend's address; 0 for an IPv4 backend.</summary>
    public UInt128 Address6 { get; init; }
    /// <summary>The port the backend listens on (NAT may differ from the service port; DR never does).</summary>
    public ushort Port { get; init; }
    /// <summary>The operator's weight (config, or <c>lb backend weight</c>); 0 drains.</summary>
    public required int Weight { get; init; }
    /// <summary>The weight this backend has in the Maglev table: <see cref="Weight"/> when it takes new
    /// flows, 0 when it does not (draining, soft-stopped, unhealthy, unknown, or a backup standing by).</summary>
    public required int TableWeight { get; init; }
    public BackendHealth Health { get; init; } = BackendHealth.Healthy;
    public BackendIntent Intent { get; init; } = BackendIntent.Active;
    /// <summary>Its health check asked for a drain (soft-stop file removed): no new flows, existing continue.</summary>
    public bool SoftStopped { get; init; }
    public bool IsBackup { get; init; }
    /// <summary>Removed from the config by a reload while it still had flows under <c>on_backend_down: keep</c>: no
    /// new flows; its existing ones continue, and it leaves the snapshot once they have ended.</summary>
    public bool Leaving { get; init; }
    /// <summary>Unhealthy: its existing flows follow the service's <see cref="ServiceSnapshot.OnBackendDown"/>.</summary>
    public bool IsDown => Health == BackendHealth.Unhealthy;
    /// <summary>Its connection limit (<c>max_connections</c>, <c>min_connections</c>); <see cref="ConnectionLimit.None"/> without.</summary>
    public ConnectionLimit Limit { get; init; } = ConnectionLimit.None;
    /// <summary>The weight it takes new flows with when every backend of <see cref="TableWeight"/> is full: a usable
    /// backup's weight while the normal backends are the table, else 0.</summary>
    public int OverflowWeight { get; init; }
    /// <summary>Index into the shared <see cref="NeighborTable"/> for this backend's MAC.</summary>
    public required int NeighborIndex { get; init; }
}

/// <summary>A virtual service in one snapshot: what every mode shares (its VIP, interfaces, backends and their
/// Maglev table) and its <see cref="Forwarder"/>, bound once here with the mode's own settings. Immutable.</summary>
public sealed class ServiceSnapshot
{
    /// <summary>Stable for the life of the process for the same name, VIP, port and protocol, never reused: NAT
    /// sessions and the workers' counters are kept by it, so both survive a reload that reorders, adds or removes
    /// services. Below <see cref="WorkerCounters.MaxServices"/>.</summary>
    public required int Id { get; init; }
    public required string Name { get; init; }
    /// <summary>The service as configured (what status shows of it beyond the data path's view).</summary>
    public required ServiceConfig Config { get; init; }
    /// <summary>IPv4: the VIP; 0 for an IPv6 service (see <see cref="Vip6"/>).</summary>
    public required uint Vip { get; init; }
    /// <summary>IPv6: the VIP; 0 for an IPv4 service. A service and its backends are of one family.</summary>
    public UInt128 Vip6 { get; init; }
    /// <summary>The config's family; the packet path never asks (the snapshot keeps each family's services apart).</summary>
    public bool IsIpv6 => Config.IsIpv6;
    public required ushort Port { get; init; }
    public required byte Protocol { get; init; }
    /// <summary>For status and logs only: the packet path goes through <see cref="Forwarder"/>.</summary>
    public required ForwardingMode Mode { get; init; }
    /// <summary>Where the service's client frames arrive (<c>interface</c>).</summary>
    public required int IngressInterface { get; init; }
    /// <summary>Where frames to its backends leave (<c>backend_interface</c>, default the same).</summary>
    public required int EgressInterface { get; init; }
    /// <summary>The MAC the VIP is announced with, when it is not <see cref="IngressInterface"/>'s own (CLUSTERIP:
    /// the multicast cluster MAC, which the interface's readers must also join).</summary>
    public MacAddress? VipMac { get; init; }
    /// <summary>The engine answers ARP for the VIP and announces it (<c>arp</c>); false when the VIP is routed here.</summary>
    public bool AnswersArp { get; init; } = true;
    /// <summary>The VIP is announced as a route while this service can take new flows (<c>announce</c>).</summary>
    public bool Announce { get; init; }
    public required BackendSnapshot[] Backends { get; init; }
    public required MaglevTable Table { get; init; }
    /// <summary>Backend slot by stable id, -1 where the id is not (or no longer) in this service.</summary>
    public required int[] SlotById { get; init; }
    public required IForwarder Forwarder { get; init; }
    public BackendDownAction OnBackendDown { get; init; } = BackendDownAction.Reassign;
    /// <summary>How a new flow picks its backend (<c>scheduler:</c>); CLUSTERIP ownership is always Maglev.</summary>
    public SchedulerKind Scheduler { get; init; } = SchedulerKind.Maglev;
    /// <summary>Some backend has a connection limit: new flows then look at counts even under Maglev.</summary>
    public bool HasLimits { get; init; }
    /// <summary>No backend is usable (the table is empty, or spans unhealthy backends under use_all).</summary>
    public bool AllDown { get; init; }

    /// <summary>What decides a new flow's backend, as one short string: lookup3 over the hash seed and, for every
    /// table slot, the backend's address and port (-1 for an empty table), then the table's size. Two balancers (or
    /// a balancer before and after a change) that show the same digest send every new flow to the same backend.
    /// Computed at the first ask (it reads the whole table) and kept: the snapshot never changes, and status (which
    /// <c>lb ha check</c> asks every second) would otherwise hash the table each time.</summary>
    public string TableDigest(uint hashSeed)
    {
        var cached = _digest;
        if (cached is not null && cached.Seed == hashSeed) return cached.Value;
        var digest = ComputeDigest(hashSeed);
        _digest = new DigestOf(hashSeed, digest);
        return digest;
    }

    private sealed record DigestOf(uint Seed, string Value);
    private DigestOf? _digest;

    private string ComputeDigest(uint hashSeed)
    {
        var entries = Table.Entries;
        var bytes = new byte[4 + entries.Length * 6];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes, hashSeed);
        for (var i = 0; i < entries.Length; i++)
        {
            var slot = bytes.AsSpan(4 + i * 6, 6);
            if (entries[i] < 0) slot.Fill(0xFF);
            else
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(slot, Backends[entries[i]].Address);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(slot[4..], Backends[entries[i]].Port);
            }
        }
        return Flows.Lookup3.HashLittle(bytes, 0).ToString("x8", System.Globalization.CultureInfo.InvariantCulture) + "-" +
               entries.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public BackendSnapshot? BackendById(int id) =>
        (uint)id < (uint)SlotById.Length && SlotById[id] >= 0 ? Backends[SlotById[id]] : null;
}
