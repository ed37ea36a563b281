using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.Core.Forwarding.Nat;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Hosting;

/// <summary>Why <see cref="FlowAnswer.Backend"/>: the flow is in a table (<c>flow</c>), or it is unknown and a new one
/// would get the Maglev table's slot for its hash (<c>maglev</c>), a backup standing in for the primaries
/// (<c>backup</c>), the scheduler's pick from the counts now (<c>wlc</c>, <c>wrr</c>; under Maglev with connection
/// limits, <c>wlc</c> when its Maglev backend is full), or nothing (<c>none</c>: an empty table, or a CLUSTERIP node
/// without quorum; <c>full</c>: every backend that could take it at its limit).</summary>
public enum FlowSource { Flow, Maglev, Backup, None, Wlc, Wrr, Full }

/// <summary>Where one client's flow goes (<c>lb flow</c>): its backend (a CLUSTERIP node's backend name, e.g.
/// <c>node-2</c>; null for <see cref="FlowSource.None"/>), the table slot of a prediction, the worker that holds the
/// flow or that the fanout gives it, and for a known flow its state and idle time.</summary>
public sealed record FlowAnswer(string? Backend, FlowSource Source, int? Slot, int Worker, string? State = null, long? IdleMs = null)
{
    public static string SourceName(FlowSource source) => source switch
    {
        FlowSource.Flow => "flow",
        FlowSource.Maglev => "maglev",
        FlowSource.Backup => "backup",
        FlowSource.Wlc => "wlc",
        FlowSource.Wrr => "wrr",
        FlowSource.Full => "full",
        _ => "none",
    };
}

/// <summary>One live flow-table entry or NAT session of a service (<c>lb flows</c>).</summary>
public sealed record FlowListing(string Client, string Backend, string State, long IdleMs, int Worker);

/// <summary>The read-only lookups behind <c>lb flow</c> and <c>lb flows</c>, for the control thread. They read the
/// workers' tables racily, as status does (<see cref="FlowTable.IndexOf"/>, <see cref="FlowTable.Slot"/> and their
/// NAT counterparts, never the workers' own Find or Insert, which reclaim and evict): an entry may change between
/// the look and the answer, which an operator's question can afford; the workers are neither stopped nor slowed.
/// The table a mode keeps its flows in is the one asked: NAT sessions for NAT, the flow table for DR and CLUSTERIP.</summary>
public static class FlowLookup
{
    /// <summary>The flow from <paramref name="clientAddress"/>:<paramref name="clientPort"/> to the service: the entry a
    /// worker holds (the fanout's worker first), else what a new flow would get, decided as the forwarder decides it.</summary>
    public static FlowAnswer Find(Engine engine, DataPlaneSnapshot snapshot, ServiceSnapshot service, uint clientAddress, ushort clientPort)
    {
        var key = new FlowKey(service.Protocol, clientAddress, service.Vip, clientPort, service.Port);
        var hash = FlowHash.Compute(key, snapshot.HashSeed);
        var now = engine.ClockMs();
        var home = engine.WorkerFor(service.IngressInterface, clientAddress, clientPort);
        // The fanout's worker holds it, unless the worker count changed since (a restart keeps no tables, so only
        // through a synced entry): the others are asked too.
        if (home >= 0 && Held(engine.Workers[home].Processor.Worker, service, key, hash, now, home) is { } found) return found;
        for (var w = 0; w < engine.Workers.Count; w++)
            if (w != home && Held(engine.Workers[w].Processor.Worker, service, key, hash, now, w) is { } elsewhere) return elsewhere;
        return Predict(engine, service, key, hash, Math.Max(home, 0));
    }

    /// <summary>The same for an IPv6 service (DR6, CLUSTERIP6): the worker's IPv6 flow table, else what Maglev gives the
    /// flow (for CLUSTERIP6, the node owning its bucket).</summary>
    public static FlowAnswer Find6(Engine engine, DataPlaneSnapshot snapshot, ServiceSnapshot service, UInt128 clientAddress, ushort clientPort)
    {
        var key = new FlowKey6(service.Protocol, clientAddress, service.Vip6, clientPort, service.Port);
        var hash = FlowHash.Compute6(key, snapshot.HashSeed);
        var now = engine.ClockMs();
        var home = engine.WorkerFor(service.IngressInterface, WorkerFanout.Fold(clientAddress), clientPort);
        if (home >= 0 && Held6(engine.Workers[home].Processor.Worker, service, key, hash, now, home) is { } found) return found;
        for (var w = 0; w < engine.Workers.Count; w++)
            if (w != home && Held6(engine.Workers[w].Processor.Worker, service, key, hash, now, w) is { } elsewhere) return elsewhere;
        if (service.Forwarder is ClusterIpForwarder { Settings: var s })
            return Owner(s, s.OwnershipHash(key), Math.Max(home, 0));
        return FromTable(engine, service, hash, Math.Max(home, 0));
    }

    private static FlowAnswer? Held6(WorkerState worker, ServiceSnapshot service, in FlowKey6 key, uint hash, long now, int w)
    {
        if (service.Mode == ForwardingMode.Nat)
        {
            if (worker.Sessions6 is not { } sessions) return null;
            var slot = sessions.IndexOfForward(key, hash, now);
            if (slot < 0) return null;
            var s = sessions.Slot(slot); // one copy: the worker may rewrite the slot meanwhile
            return Known(service, s.BackendId, s.State, now - s.LastSeenMs, w);
        }
        if (worker.Flows6 is not { } flows) return null;
        var i = flows.IndexOf(key, hash, now);
        if (i < 0) return null;
        var e = flows.Slot(i);
        return Known(service, e.BackendId, e.State, now - e.LastSeenMs, w);
    }

    private static FlowAnswer? Held(WorkerState worker, ServiceSnapshot service, in FlowKey key, uint hash, long now, int w)
    {
        if (service.Mode == ForwardingMode.Nat)
        {
            var slot = worker.Sessions.IndexOfForward(key, hash, now);
            if (slot < 0) return null;
            var s = worker.Sessions.Slot(slot); // one copy: the worker may rewrite the slot meanwhile
            return Known(service, s.BackendId, s.State, now - s.LastSeenMs, w);
        }
        var i = worker.Flows.IndexOf(key, hash, now);
        if (i < 0) return null;
        var e = worker.Flows.Slot(i);
        return Known(service, e.BackendId, e.State, now - e.LastSeenMs, w);
    }

    /// <summary>A held flow whose backend has left the service is decided again by its next packet: not an answer.</summary>
    private static FlowAnswer? Known(ServiceSnapshot service, int backendId, FlowState state, long idleMs, int w) =>
        BackendName(service, backendId) is { } name ? new FlowAnswer(name, FlowSource.Flow, null, w, FlowTable.Name(state), Math.Max(0, idleMs)) : null;

    /// <summary>A CLUSTERIP node holds only the flows it serves itself: their backend is this node.</summary>
    private static string? BackendName(ServiceSnapshot service, int backendId) =>
        service.Forwarder is ClusterIpForwarder { Settings: var s } ? ClusterNodeConfig.NameOf(s.LocalNode) : service.BackendById(backendId)?.Name;

    /// <summary>What a new flow gets: <c>maglev[hash % size]</c>, or for CLUSTERIP the node owning its bucket (which
    /// takes it; another node's share is not this node's to take).</summary>
    private static FlowAnswer Predict(Engine engine, ServiceSnapshot service, in FlowKey key, uint hash, int worker)
    {
        if (service.Forwarder is ClusterIpForwarder { Settings: var s })
            return Owner(s, s.OwnershipHash(key), worker);
        return FromTable(engine, service, hash, worker);
    }

    /// <summary>The node owning ownership hash <paramref name="h"/>, or none without quorum.</summary>
    private static FlowAnswer Owner(ClusterIpSettings s, uint h, int worker)
    {
        var owner = s.HasQuorum && s.Table.Size > 0 ? s.Table.OwnerOf(h) : -1;
        return owner < 0
            ? new FlowAnswer(null, FlowSource.None, null, worker)
            : new FlowAnswer(ClusterNodeConfig.NameOf(owner), FlowSource.Maglev, (int)(h % (uint)s.Table.Size), worker);
    }

    /// <summary>The scheduler's answer for a new flow on <paramref name="worker"/>: <see cref="BackendScheduler.Predict"/>,
    /// which is Maglev's slot alone for a Maglev service without limits.</summary>
    private static FlowAnswer FromTable(Engine engine, ServiceSnapshot service, uint hash, int worker)
    {
        var state = engine.Workers[Math.Min(worker, engine.Workers.Count - 1)].Processor.Worker;
        var slot = BackendScheduler.Predict(service, hash, state, new SchedulerScratch());
        if (slot < 0) return new FlowAnswer(null, slot == BackendScheduler.Full ? FlowSource.Full : FlowSource.None, null, worker);
        var backend = service.Backends[slot];
        var maglevSlot = (int)(hash % (uint)service.Table.Size);
        if (backend.IsBackup) return new FlowAnswer(backend.Name, FlowSource.Backup, service.Table.Lookup(hash) == slot ? maglevSlot : null, worker);
        return service.Scheduler switch
        {
            SchedulerKind.Wlc => new FlowAnswer(backend.Name, FlowSource.Wlc, null, worker),
            SchedulerKind.Wrr => new FlowAnswer(backend.Name, FlowSource.Wrr, null, worker),
            _ when service.Table.Lookup(hash) == slot => new FlowAnswer(backend.Name, FlowSource.Maglev, maglevSlot, worker),
            _ => new FlowAnswer(backend.Name, FlowSource.Wlc, null, worker), // its Maglev backend is full
        };
    }

    /// <summary>The service's live flows (or NAT sessions), worker by worker, at most <paramref name="limit"/> of them,
    /// only <paramref name="backend"/>'s when given; <paramref name="total"/> counts every one that matched.</summary>
    public static IReadOnlyList<FlowListing> List(Engine engine, ServiceSnapshot service, string? backend, int limit, out int total)
    {
        var rows = new List<FlowListing>();
        var now = engine.ClockMs();
        total = 0;
        for (var w = 0; w < engine.Workers.Count; w++)
        {
            var worker = engine.Workers[w].Processor.Worker;
            if (service.Mode == ForwardingMode.Nat && service.IsIpv6)
            {
                if (worker.Sessions6 is not { } sessions6) continue;
                for (var i = 0; i < sessions6.Capacity; i++)
                {
                    var s = sessions6.Slot(i);
                    if (s.InUse && s.ServiceId == service.Id && !NatSessionTable.Expired(s, now))
                        Add(rows, ref total, limit, backend, service, Client6(s.Forward), s.BackendId, s.State, now - s.LastSeenMs, w);
                }
                continue;
            }
            if (service.Mode == ForwardingMode.Nat)
            {
                for (var i = 0; i < worker.Sessions.Capacity; i++)
                {
                    var s = worker.Sessions.Slot(i);
                    if (s.InUse && s.ServiceId == service.Id && !NatSessionTable.Expired(s, now))
                        Add(rows, ref total, limit, backend, service, Client(s.Forward), s.BackendId, s.State, now - s.LastSeenMs, w);
                }
                continue;
            }
            if (service.IsIpv6)
            {
                if (worker.Flows6 is not { } flows6) continue;
                for (var i = 0; i < flows6.Capacity; i++)
                {
                    var e = flows6.Slot(i);
                    if (!flows6.IsExpired(e, now) && e.Key.DestinationAddress == service.Vip6 && e.Key.DestinationPort == service.Port
                        && e.Key.Protocol == service.Protocol)
                        Add(rows, ref total, limit, backend, service, Client6(e.Key), e.BackendId, e.State,
                            now - e.LastSeenMs, w);
                }
                continue;
            }
            for (var i = 0; i < worker.Flows.Capacity; i++)
            {
                var e = worker.Flows.Slot(i);
                if (!worker.Flows.IsExpired(e, now) && e.Key.DestinationAddress == service.Vip && e.Key.DestinationPort == service.Port
                    && e.Key.Protocol == service.Protocol)
                    Add(rows, ref total, limit, backend, service, Client(e.Key), e.BackendId, e.State, now - e.LastSeenMs, w);
            }
        }
        return rows;
    }

    private static string Client(in FlowKey key) => $"{Ipv4.Format(key.SourceAddress)}:{key.SourcePort}";

    private static string Client6(in FlowKey6 key) => $"[{Ipv6.Format(key.SourceAddress)}]:{key.SourcePort}";

    private static void Add(List<FlowListing> rows, ref int total, int limit, string? only, ServiceSnapshot service, string client,
        int backendId, FlowState state, long idleMs, int worker)
    {
        var name = BackendName(service, backendId) ?? "#" + backendId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (only is not null && name != only) return;
        total++;
        if (rows.Count < limit)
            rows.Add(new FlowListing(client, name, FlowTable.Name(state), Math.Max(0, idleMs), worker));
    }
}
