using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.Nat;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Core.Sync;

/// <summary>One worker's side of state sync with the HA peer (DR flow-table entries and NAT sessions; CLUSTERIP has
/// its own membership and is not synced).
/// Out: the packet path offers an entry when it is created or changes state (<see cref="Flow"/>,
/// <see cref="Session"/>); between batches <see cref="Housekeep"/> walks the tables so every live entry is offered
/// again at least every <see cref="RefreshMs"/> (the peer's copy keeps the same age as ours, and ages out with it),
/// and walks them whole when the peer asks for a dump. Only while the engine is master.
/// In: records the sync receiver routed to this worker (the one whose frames of that flow will arrive, see
/// <see cref="WorkerFanout"/>) are merged into the worker's own tables by <see cref="Housekeep"/>, on the worker's
/// thread, so the tables stay single-threaded.
/// Nothing waits: a full ring drops and counts. Nothing is allocated after construction.</summary>
public sealed class WorkerSync(SyncSwitch control, int queueCapacity = WorkerSync.DefaultQueueCapacity)
{
    public const int DefaultQueueCapacity = 16_384;
    /// <summary>Every live entry is re-sent at least this often, so the peer's copy lags ours by at most this.</summary>
    public const long RefreshMs = 5_000;
    /// <summary>Slots one housekeeping call looks at, per table: bounds the pause it adds between two batches.</summary>
    private const int ScanBudget = 65_536;
    private const int InstallBudget = 8_192;

    private int _flowCursor;
    private int _sessionCursor;
    private long _flowDue;
    private long _sessionDue;
    private long _lastWalkMs = -1;
    private int _dumpsSeen;

    public SyncSwitch Control { get; } = control;
    /// <summary>Worker → sync sender.</summary>
    public SyncRing Outbound { get; } = new(queueCapacity);
    /// <summary>Sync receiver → worker.</summary>
    public SyncRing Inbound { get; } = new(queueCapacity);

    // Written by the worker only (a full inbound ring is counted by the receiver, which writes it).
    public long OutboundDropped;
    public long Installed;
    /// <summary>Records naming a service or backend this engine does not have (the two configs differ).</summary>
    public long Unmatched;

    /// <summary>A DR flow was created or changed state.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Flow(in FlowKey key, FlowState state, BackendSnapshot backend, long lastSeenMs)
    {
        if (Control.Sending) Offer(FlowRecord(key, state, backend, lastSeenMs));
    }

    /// <summary>A NAT session was created or changed state.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Session(in NatSession<FlowKey> session, BackendSnapshot backend)
    {
        if (Control.Sending) Offer(SessionRecord(session, backend));
    }

    private static SyncRecord FlowRecord(in FlowKey key, FlowState state, BackendSnapshot backend, long lastSeenMs) =>
        new() { Kind = SyncKind.Flow, State = state, Key = key, BackendAddress = backend.Address, BackendPort = backend.Port, LastSeenMs = lastSeenMs };

    private static SyncRecord SessionRecord(in NatSession<FlowKey> s, BackendSnapshot backend) => new()
    {
        Kind = SyncKind.Session, State = s.State, Key = s.Forward, BackendAddress = backend.Address, BackendPort = backend.Port,
        ClientHop = s.ClientHop, LastSeenMs = s.LastSeenMs,
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Offer(in SyncRecord record)
    {
        if (!Outbound.TryWrite(record)) OutboundDropped++;
    }

    /// <summary>Between batches, on the worker's thread: merge what the peer sent, then walk a share of the tables.</summary>
    public void Housekeep(DataPlaneSnapshot snapshot, WorkerState worker, long nowMs)
    {
        if (Inbound.Count > 0) Install(snapshot, worker, nowMs);

        var dumps = Control.DumpRequests;
        var dump = dumps != _dumpsSeen;
        _dumpsSeen = dumps;
        var elapsed = _lastWalkMs < 0 ? 0 : nowMs - _lastWalkMs;
        _lastWalkMs = nowMs;
        if (!Control.Sending)
        {
            _flowDue = _sessionDue = 0;
            return;
        }
        _flowDue = Due(_flowDue, worker.Flows.Capacity, elapsed, dump);
        _sessionDue = Due(_sessionDue, worker.Sessions.Capacity, elapsed, dump);
        if (_flowDue > 0) _flowDue -= WalkFlows(snapshot, worker.Flows, nowMs, (int)Math.Min(_flowDue, ScanBudget));
        if (_sessionDue > 0) _sessionDue -= WalkSessions(snapshot, worker.Sessions, nowMs, (int)Math.Min(_sessionDue, ScanBudget));
    }

    /// <summary>Slots owed to the walk: the whole table every <see cref="RefreshMs"/>, or at once for a dump; never
    /// more than one table's worth, so a walk held back by a full ring does not pile up rounds.</summary>
    private static long Due(long due, int capacity, long elapsedMs, bool dump) =>
        dump ? capacity : Math.Min(capacity, due + (capacity * elapsedMs + RefreshMs - 1) / RefreshMs);

    /// <summary>Offers the live DR entries among up to <paramref name="budget"/> slots; stops early when the ring is
    /// half full, so the packet path's own offers keep room. Returns the slots looked at.</summary>
    private int WalkFlows(DataPlaneSnapshot snapshot, FlowTable<FlowKey> flows, long nowMs, int budget)
    {
        var n = 0;
        for (; n < budget && Outbound.Free > Outbound.Capacity / 2; n++)
        {
            ref readonly var e = ref flows.Slot(_flowCursor);
            _flowCursor = _flowCursor + 1 == flows.Capacity ? 0 : _flowCursor + 1;
            if (flows.IsExpired(e, nowMs)) continue;
            var service = snapshot.FindService(e.Key.DestinationAddress, e.Key.Protocol, e.Key.DestinationPort);
            if (service is not { Mode: ForwardingMode.DirectRouting } || service.BackendById(e.BackendId) is not { } backend) continue;
            Offer(FlowRecord(e.Key, e.State, backend, e.LastSeenMs));
        }
        return n;
    }

    private int WalkSessions(DataPlaneSnapshot snapshot, NatSessionTable<FlowKey> sessions, long nowMs, int budget)
    {
        var n = 0;
        for (; n < budget && Outbound.Free > Outbound.Capacity / 2; n++)
        {
            ref readonly var s = ref sessions.Slot(_sessionCursor);
            _sessionCursor = _sessionCursor + 1 == sessions.Capacity ? 0 : _sessionCursor + 1;
            if (!s.InUse || NatSessionTable.Expired(s, nowMs)) continue;
            if (snapshot.ServiceById(s.ServiceId)?.BackendById(s.BackendId) is not { } backend) continue;
            Offer(SessionRecord(s, backend));
        }
        return n;
    }

    private void Install(DataPlaneSnapshot snapshot, WorkerState worker, long nowMs)
    {
        for (var n = 0; n < InstallBudget && Inbound.TryRead(out var r); n++)
        {
            var service = snapshot.FindService(r.Key.DestinationAddress, r.Key.Protocol, r.Key.DestinationPort);
            var backend = service is null ? null : Backend(service, r.BackendAddress, r.BackendPort);
            if (backend is null)
            {
                Unmatched++;
                continue;
            }
            // A record from the future (clocks are per engine; the age on the wire cannot be negative, but be sure).
            var lastSeen = Math.Min(r.LastSeenMs, nowMs);
            var merged = false;
            if (r.Kind == SyncKind.Flow && service!.Mode == ForwardingMode.DirectRouting)
                merged = worker.Flows.Merge(r.Key, FlowHash.Compute(r.Key, snapshot.HashSeed), backend.Id, r.State, lastSeen, nowMs);
            else if (r.Kind == SyncKind.Session && service!.Forwarder is NatForwarder nat)
            {
                merged = worker.Sessions.Merge(
                    nat.Settings.NewSession(r.Key, FlowHash.Compute(r.Key, snapshot.HashSeed), service, backend, r.ClientHop, r.State, lastSeen), nowMs);
            }
            else
            {
                Unmatched++;
                continue;
            }
            if (merged) Installed++;
        }
    }

    private static BackendSnapshot? Backend(ServiceSnapshot service, uint address, ushort port)
    {
        foreach (var b in service.Backends)
            if (b.Address == address && (b.Port == port || service.Mode == ForwardingMode.DirectRouting)) return b;
        return null;
    }
}
