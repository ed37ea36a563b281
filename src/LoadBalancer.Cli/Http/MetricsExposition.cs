using System.Text.Json;
using Prometheus;

namespace LoadBalancer.Cli.Http;

/// <summary><c>/metrics</c>: the status document (<c>lb status --json</c>, exactly) turned into the Prometheus text
/// exposition format by prometheus-net. Every value is read from that one document, so a scrape and a status taken
/// with traffic stopped agree; building it takes no lock a worker takes (status reads the counters racily). Series
/// of services and backends that are gone (a reload) leave with them; a counter that went backwards (a backend
/// replaced under its name) restarts as a new series, which Prometheus reads as a counter reset.</summary>
internal sealed class MetricsExposition
{
    private static readonly string[] Healths = ["healthy", "unhealthy", "unknown"];

    // prometheus-net starts, with its default registry, listeners for every .NET EventCounter and Meter in the process
    // (the runtime's and Kestrel's, sampled every second) whether or not that registry is ever exported. We export our
    // own registry only, so they would cost the engine (whose workers may share the core) for nothing: off before the
    // first registry exists. Measured in the lab: benchmarks/RESULTS.md, "What a 1 s scrape of /metrics costs".
    static MetricsExposition() => Metrics.SuppressDefaultMetrics();

    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Family[] _families;
    private readonly Family _backendPackets, _backendBytes, _backendFlows, _backendActive, _backendFull, _backendUp, _backendHealth, _backendWeight, _checks,
        _servicePackets, _serviceBytes, _drops, _ringDrops, _flowEntries, _flowCapacity, _natSessions, _nodeAlive, _buildInfo, _startTime, _stateChanges;

    public MetricsExposition()
    {
        var f = Metrics.WithCustomRegistry(_registry);
        Family Counter(string name, string help, params string[] labels) => new(f.CreateCounter(name, help, new CounterConfiguration { LabelNames = labels }));
        Family Gauge(string name, string help, params string[] labels) => new(f.CreateGauge(name, help, new GaugeConfiguration { LabelNames = labels }));
        _families =
        [
            _backendPackets = Counter("lb_backend_packets_total", "Packets forwarded to the backend (client to server)", "service", "backend"),
            _backendBytes = Counter("lb_backend_bytes_total", "Bytes forwarded to the backend", "service", "backend"),
            _backendFlows = Gauge("lb_backend_flows", "Live flow-table entries or NAT sessions on the backend", "service", "backend"),
            _backendActive = Gauge("lb_backend_active", "Flows or sessions of the backend not closing: what wlc and connection limits count", "service", "backend"),
            _backendFull = Gauge("lb_backend_full", "1 while the backend is at its connection limit (from max_connections until below min_connections)", "service", "backend"),
            _backendUp = Gauge("lb_backend_up", "1 while the backend takes new flows (status state active)", "service", "backend"),
            _backendHealth = Gauge("lb_backend_health", "1 for the backend's current health, 0 for the others", "service", "backend", "state"),
            _backendWeight = Gauge("lb_backend_weight", "The backend's weight (config or lb backend weight)", "service", "backend"),
            _checks = Counter("lb_health_checks_total", "Health check results received for the backend", "service", "backend", "result"),
            _servicePackets = Counter("lb_service_packets_total", "Packets of the service forwarded", "service"),
            _serviceBytes = Counter("lb_service_bytes_total", "Bytes of the service forwarded", "service"),
            _drops = Counter("lb_drops_total", "Frames dropped by the engine, by reason", "reason"),
            _ringDrops = Counter("lb_ring_drops_total", "Frames the kernel dropped because a receive ring was full"),
            _flowEntries = Gauge("lb_flow_table_entries", "Live entries in the flow tables of every worker"),
            _flowCapacity = Gauge("lb_flow_table_capacity", "Slots in the flow tables of every worker"),
            _natSessions = Gauge("lb_nat_sessions", "Live NAT sessions of the service", "service"),
            _nodeAlive = Gauge("lb_cluster_node_alive", "1 while the CLUSTERIP node is alive as this node sees it", "service", "node"),
            _buildInfo = Gauge("lb_build_info", "Always 1; the version is lb version's", "version"),
            _startTime = Gauge("lb_start_time_seconds", "When the engine started, in seconds since the Unix epoch"),
            _stateChanges = Counter("lb_state_changes_total", "State-change events (health, intent, soft_stop, weight, node; role with service \"\")", "service", "kind"),
        ];
    }

    /// <summary>Writes the exposition of <paramref name="statusJson"/> (one scrape at a time).</summary>
    public async Task WriteAsync(string statusJson, Stream output, CancellationToken cancel)
    {
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            Update(statusJson);
            await _registry.CollectAndExportAsTextAsync(output, cancel).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The exposition as text (tests, and callers without a stream).</summary>
    public string Text(string statusJson)
    {
        using var stream = new MemoryStream();
        WriteAsync(statusJson, stream, CancellationToken.None).GetAwaiter().GetResult();
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private void Update(string statusJson)
    {
        using var doc = JsonDocument.Parse(statusJson);
        var root = doc.RootElement;
        foreach (var family in _families) family.Begin();

        _buildInfo.Set(1, root.GetProperty("version").GetString()!);
        _startTime.Set(root.GetProperty("start_time_seconds").GetDouble());
        long entries = 0, capacity = 0;
        foreach (var t in root.GetProperty("tables").EnumerateArray())
            if (t.GetProperty("table").GetString() is "flows" or "flows6")
            {
                entries += t.GetProperty("entries").GetInt64();
                capacity += t.GetProperty("capacity").GetInt64();
            }
        _flowEntries.Set(entries);
        _flowCapacity.Set(capacity);
        _ringDrops.Set(root.GetProperty("frames").GetProperty("ring_drops").GetInt64());
        foreach (var drop in root.GetProperty("drops").EnumerateObject()) _drops.Set(drop.Value.GetInt64(), drop.Name);
        foreach (var c in root.GetProperty("state_changes").EnumerateArray())
            _stateChanges.Set(c.GetProperty("count").GetInt64(), c.GetProperty("service").GetString()!, c.GetProperty("kind").GetString()!);

        foreach (var s in root.GetProperty("services").EnumerateArray())
        {
            var service = s.GetProperty("name").GetString()!;
            _servicePackets.Set(s.GetProperty("packets").GetInt64(), service);
            _serviceBytes.Set(s.GetProperty("bytes").GetInt64(), service);
            if (s.GetProperty("mode").GetString() == "nat") _natSessions.Set(s.GetProperty("active_flows").GetInt64(), service);
            if (s.TryGetProperty("nodes", out var nodes))
                foreach (var n in nodes.EnumerateArray())
                    _nodeAlive.Set(n.GetProperty("alive").GetBoolean() ? 1 : 0, service, n.GetProperty("id").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var b in s.GetProperty("backends").EnumerateArray())
            {
                var backend = b.GetProperty("name").GetString()!;
                _backendPackets.Set(b.GetProperty("packets").GetInt64(), service, backend);
                _backendBytes.Set(b.GetProperty("bytes").GetInt64(), service, backend);
                _backendFlows.Set(b.GetProperty("active_flows").GetInt64(), service, backend);
                _backendActive.Set(b.GetProperty("active").GetInt64(), service, backend);
                _backendFull.Set(b.GetProperty("full").GetBoolean() ? 1 : 0, service, backend);
                _backendUp.Set(b.GetProperty("state").GetString() == "active" ? 1 : 0, service, backend);
                _backendWeight.Set(b.GetProperty("weight").GetInt64(), service, backend);
                var health = b.GetProperty("health").GetString();
                foreach (var h in Healths) _backendHealth.Set(h == health ? 1 : 0, service, backend, h);
                var checks = b.GetProperty("checks");
                _checks.Set(checks.GetProperty("ok").GetInt64(), service, backend, "ok");
                _checks.Set(checks.GetProperty("fail").GetInt64(), service, backend, "fail");
            }
        }
        foreach (var family in _families) family.End();
    }

    /// <summary>One metric family: the series set this scrape, and the removal of those not set.</summary>
    private sealed class Family(Collector collector)
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public void Begin() => _seen.Clear();

        public void Set(double value, params string[] labels)
        {
            _seen.Add(string.Join('\u0001', labels));
            switch (collector)
            {
                case Counter c:
                    var child = c.WithLabels(labels);
                    if (value < child.Value)
                    {
                        c.RemoveLabelled(labels);
                        child = c.WithLabels(labels);
                    }
                    child.IncTo(value);
                    break;
                case Gauge g:
                    g.WithLabels(labels).Set(value);
                    break;
            }
        }

        public void End()
        {
            var all = collector switch
            {
                Counter c => c.GetAllLabelValues(),
                Gauge g => g.GetAllLabelValues(),
                _ => [],
            };
            foreach (var labels in all.ToArray())
            {
                if (_seen.Contains(string.Join('\u0001', labels))) continue;
                if (collector is Counter c) c.RemoveLabelled(labels);
                else if (collector is Gauge g) g.RemoveLabelled(labels);
            }
        }
    }
}
