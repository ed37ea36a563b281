using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Sync;
using LoadBalancer.Hosting.Platform;

namespace LoadBalancer.Hosting.Sync;

/// <summary>What <c>lb status</c> shows of state sync. Messages are counted whole; records (entries) apart.</summary>
public sealed record SyncReport(
    string Peer, long Sent, long Received, long Refused, long Dropped,
    long EntriesSent, long EntriesReceived, long Installed, long Unmatched, long SendFailed,
    string? PeerRole, double? PeerHeardSecondsAgo);

/// <summary>State sync with the HA peer (<c>ha.sync</c>), the control-plane half: two threads around one UDP socket.
/// The sender drains every worker's outbound ring into messages of up to <see cref="SyncWire.MaxRecords"/> records,
/// signs them when a key is set, and sends a hello every second whatever the role. The receiver accepts messages only
/// from <c>ha.sync.peer</c>, with a valid HMAC when a key is set and not replayed (<see cref="ReplayWindow"/>);
/// anything else is counted as refused. Accepted records go to the inbound ring of the worker whose frames of that
/// flow will arrive (the service's client-side interface, then <see cref="WorkerFanout"/>); a full ring drops and
/// counts. A peer heard for the first time, with a new epoch (it restarted), or again after silence, makes this side
/// (if master) dump its whole tables.</summary>
public sealed class StateSync : IDisposable
{
    private const int HelloIntervalMs = 1_000;
    /// <summary>A peer not heard for this long is gone; when it is heard again it gets a full dump.</summary>
    private const int SilenceMs = 3_000;
    private const int SendPassMs = 5;

    private readonly HaSyncConfig _config;
    private readonly ISyncSocket _socket;
    private readonly SyncSwitch _switch;
    private readonly HaRoles _roles;
    private readonly DataPlaneState _state;
    private readonly IReadOnlyDictionary<int, WorkerSync[]> _workers;
    private readonly Func<long> _clockMs;
    private readonly EngineLog _log;
    private readonly uint _peer;
    private readonly ulong _epoch;
    private readonly ReplayWindow _replay = new();
    private readonly HashSet<SyncRefusal> _loggedRefusals = new();
    private readonly List<Thread> _threads = new();
    private ulong _sequence;
    private long _sent, _received, _refused, _inboundDropped, _entriesSent, _entriesReceived, _unmatched, _sendFailed;
    private long _peerHeardMs = long.MinValue;
    private ulong _knownEpoch;
    private volatile int _peerRole = -1;

    public StateSync(HaSyncConfig config, ISyncSocket socket, SyncSwitch control, HaRoles roles, DataPlaneState state,
        IReadOnlyDictionary<int, WorkerSync[]> workersByInterface, Func<long> clockMs, EngineLog log)
    {
        _config = config;
        _socket = socket;
        _switch = control;
        _roles = roles;
        _state = state;
        _workers = workersByInterface;
        _clockMs = clockMs;
        _log = log;
        _peer = Ipv4.ToUInt32(config.Peer);
        // The start time, in µs: it grows across restarts, which is what lets the peer tell a restart from a replay.
        _epoch = (ulong)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
        control.Sending = roles.Role == HaRole.Master;
        roles.Changed += role => control.Sending = role == HaRole.Master;
    }

    public ulong Epoch => _epoch;

    public void Start(CancellationToken stop)
    {
        Run("lb-sync-send", () => SendLoop(stop));
        Run("lb-sync-receive", () => ReceiveLoop(stop));
        _log.Info($"ha sync with {_config.Peer} on port {_config.Port}/udp" + (_config.Interface is { } i ? $" via {i}" : "") +
                  (_config.Key is null ? ", not authenticated" : ", HMAC-SHA256"));
    }

    private void Run(string name, Action body)
    {
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                // Sync is best effort: the pair keeps forwarding without it, and status shows it stopped.
                _log.Error($"{name} stopped: {e.Message}");
            }
        })
        { IsBackground = true, Name = name };
        _threads.Add(thread);
        thread.Start();
    }

    public SyncReport Report()
    {
        long dropped = Interlocked.Read(ref _inboundDropped), installed = 0, unmatched = 0;
        foreach (var workers in _workers.Values)
            foreach (var w in workers)
            {
                dropped += Volatile.Read(ref w.OutboundDropped);
                installed += Volatile.Read(ref w.Installed);
                unmatched += Volatile.Read(ref w.Unmatched);
            }
        var heard = Interlocked.Read(ref _peerHeardMs);
        var role = _peerRole;
        return new SyncReport(_config.Peer.ToString(), Interlocked.Read(ref _sent), Interlocked.Read(ref _received), Interlocked.Read(ref _refused),
            dropped, Interlocked.Read(ref _entriesSent), Interlocked.Read(ref _entriesReceived), installed, unmatched + Interlocked.Read(ref _unmatched),
            Interlocked.Read(ref _sendFailed), role < 0 ? null : ModeNames.Name((HaRole)role),
            heard == long.MinValue ? null : (_clockMs() - heard) / 1000.0);
    }

    private void SendLoop(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Flush();
            stop.WaitHandle.WaitOne(SendPassMs);
        }
    }

    /// <summary>One pass of the sender: every record the workers offered, in full messages, then the rest; and a hello
    /// when one is due. The sender thread's only work; internal so tests can run it without the thread.</summary>
    internal void Flush()
    {
        var buffer = _sendBuffer;
        var count = 0;
        var now = _clockMs();
        foreach (var workers in _workers.Values)
            foreach (var w in workers)
                while (w.Outbound.TryRead(out var record))
                {
                    SyncWire.WriteRecord(buffer.AsSpan(SyncWire.HeaderSize + count * SyncWire.RecordSize), record, now);
                    if (++count == SyncWire.MaxRecords)
                    {
                        Send(buffer, SyncMessageType.Entries, count);
                        count = 0;
                    }
                }
        if (count > 0) Send(buffer, SyncMessageType.Entries, count);
        if (_lastHelloMs == long.MinValue || now - _lastHelloMs >= HelloIntervalMs)
        {
            Send(buffer, SyncMessageType.Hello, 0);
            _lastHelloMs = now;
        }
    }

    private readonly byte[] _sendBuffer = new byte[SyncWire.MaxMessageSize];
    private long _lastHelloMs = long.MinValue;

    private void Send(byte[] buffer, SyncMessageType type, int count)
    {
        var key = _config.Key;
        SyncWire.WriteHeader(buffer, type, key is not null, _roles.Role, _epoch, ++_sequence, count);
        var length = SyncWire.HeaderSize + count * SyncWire.RecordSize;
        if (key is not null) length = SyncWire.Seal(buffer, length, key);
        if (_socket.Send(buffer.AsSpan(0, length)))
        {
            Interlocked.Increment(ref _sent);
            Interlocked.Add(ref _entriesSent, count);
        }
        else Interlocked.Increment(ref _sendFailed);
    }

    private void ReceiveLoop(CancellationToken stop)
    {
        var buffer = new byte[65_536];
        while (!stop.IsCancellationRequested)
        {
            var n = _socket.Receive(buffer, 200, out var source);
            if (n > 0) Accept(buffer.AsSpan(0, n), source);
        }
    }

    /// <summary>One datagram from <paramref name="source"/>; internal so tests can hand it messages directly.</summary>
    internal SyncRefusal Accept(ReadOnlySpan<byte> message, uint source)
    {
        SyncHeader header = default;
        var refusal = source != _peer ? SyncRefusal.Source : SyncWire.Check(message, _config.Key, out header);
        if (refusal == SyncRefusal.None && !_replay.Accept(header.Epoch, header.Sequence)) refusal = SyncRefusal.Replay;
        if (refusal != SyncRefusal.None)
        {
            Interlocked.Increment(ref _refused);
            lock (_loggedRefusals)
                if (_loggedRefusals.Add(refusal))
                    _log.Info($"ha sync: refused a message from {Ipv4.Format(source)} ({Describe(refusal)}); further ones are only counted");
            return refusal;
        }

        var now = _clockMs();
        var heard = Interlocked.Exchange(ref _peerHeardMs, now);
        var restarted = header.Epoch != _knownEpoch;
        _knownEpoch = header.Epoch;
        _peerRole = (int)header.Role;
        Interlocked.Increment(ref _received);
        if (restarted || heard == long.MinValue || now - heard > SilenceMs)
        {
            if (_roles.Role == HaRole.Master)
                _log.Info($"ha sync: peer {_config.Peer} " + (heard == long.MinValue ? "heard" : restarted ? "restarted" : "back after silence") +
                          ": sending it every live entry");
            _switch.RequestDump();
        }

        if (header.Type != SyncMessageType.Entries) return SyncRefusal.None;
        var snapshot = _state.Current;
        for (var i = 0; i < header.Count; i++)
        {
            if (!SyncWire.TryReadRecord(message.Slice(SyncWire.HeaderSize + i * header.RecordSize), now, out var record)) continue;
            Interlocked.Increment(ref _entriesReceived);
            var service = snapshot.FindService(record.Key.DestinationAddress, record.Key.Protocol, record.Key.DestinationPort);
            if (service is null || !_workers.TryGetValue(service.IngressInterface, out var workers))
            {
                Interlocked.Increment(ref _unmatched);
                continue;
            }
            var worker = workers[WorkerFanout.Worker(record.Key.SourceAddress, record.Key.SourcePort, workers.Length)];
            if (!worker.Inbound.TryWrite(record)) Interlocked.Increment(ref _inboundDropped);
        }
        return SyncRefusal.None;
    }

    private static string Describe(SyncRefusal refusal) => refusal switch
    {
        SyncRefusal.Source => "not from ha.sync.peer",
        SyncRefusal.Malformed => "malformed",
        SyncRefusal.Version => "unknown version",
        SyncRefusal.Authentication => "authentication failed",
        SyncRefusal.Replay => "replayed",
        _ => refusal.ToString(),
    };

    public void Dispose()
    {
        foreach (var t in _threads) t.Join(TimeSpan.FromSeconds(2));
        _socket.Dispose();
    }
}
