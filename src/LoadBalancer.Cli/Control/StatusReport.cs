using System.Net;
using System.Text;
using System.Text.Json;
using LoadBalancer.Hosting;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.ClusterIp;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Cli.Control;

/// <summary>Builds the <c>lb status --json</c> document from the running engine: counters are summed
/// over workers (each read racily but atomically, see WorkerCounters) at the time of the request.</summary>
internal static class StatusReport
{
    public static string Json(Engine host)
    {
        var snapshot = host.State.Current;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false }))
        {
            w.WriteStartObject();
            w.WriteString("version", VersionInfo.Text);
            w.WriteNumber("uptime_seconds", (long)(DateTime.UtcNow - host.StartedAt).TotalSeconds);
            w.WriteString("started_at", Timestamp(host.StartedAt));
            w.WriteNumber("start_time_seconds", Math.Round((host.StartedAt - DateTime.UnixEpoch).TotalSeconds, 3));
            w.WriteNumber("workers", host.Workers.Count);
            w.WriteStartArray("worker_frames");
            foreach (var worker in host.Workers)
            {
                w.WriteStartObject();
                w.WriteNumber("rx", worker.Processor.Counters.RxFrames);
                w.WriteNumber("tx", worker.Processor.Counters.TxFrames);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            // Each worker's two tables: how full, and how often a new flow had to push a live entry out (the
            // first sign of a flood, before anything is refused).
            w.WriteStartArray("tables");
            void Table(int worker, string name, long entries, int capacity, long evictions)
            {
                w.WriteStartObject();
                w.WriteNumber("worker", worker);
                w.WriteString("table", name);
                w.WriteNumber("entries", entries);
                w.WriteNumber("capacity", capacity);
                w.WriteNumber("evictions", evictions);
                w.WriteEndObject();
            }
            for (var i = 0; i < host.Workers.Count; i++)
            {
                var state = host.Workers[i].Processor.Worker;
                // Held entries, kept by the tables as they change (no walk: a scrape every second costs the workers nothing).
                Table(i, "flows", state.Flows.Held, state.Flows.Capacity, state.Flows.Evictions);
                if (state.Flows6 is { } flows6) Table(i, "flows6", flows6.Held, flows6.Capacity, flows6.Evictions);
                Table(i, "sessions", state.Sessions.Count, state.Sessions.Capacity, state.Sessions.Evictions);
            }
            w.WriteEndArray();
            w.WriteNumber("hash_seed", snapshot.HashSeed);
            // Which file the engine runs and whether a reload took: an operator's first question after one.
            w.WriteStartObject("config");
            if (host.Config.SourcePath is { } path) w.WriteString("path", path);
            else w.WriteNull("path");
            w.WriteNumber("reloads", host.Control.Reloads);
            if (host.Control.ReloadedAt is { } reloaded) w.WriteString("reloaded_at", Timestamp(reloaded));
            else w.WriteNull("reloaded_at");
            w.WriteNumber("snapshot", snapshot.Version);
            w.WriteEndObject();
            if (host.Roles.Enabled)
            {
                w.WriteStartObject("ha");
                w.WriteString("role", ModeNames.Name(host.Roles.Role));
                w.WriteString("since", Timestamp(host.Roles.Since));
                w.WriteString("changed_by", host.Roles.ChangedBy);
                if (host.Sync?.Report() is { } sync)
                {
                    w.WriteStartObject("sync");
                    w.WriteString("peer", sync.Peer);
                    w.WriteNumber("sent", sync.Sent);
                    w.WriteNumber("received", sync.Received);
                    w.WriteNumber("refused", sync.Refused);
                    w.WriteNumber("dropped", sync.Dropped);
                    w.WriteNumber("entries_sent", sync.EntriesSent);
                    w.WriteNumber("entries_received", sync.EntriesReceived);
                    w.WriteNumber("installed", sync.Installed);
                    w.WriteNumber("unmatched", sync.Unmatched);
                    w.WriteNumber("send_failed", sync.SendFailed);
                    if (sync.PeerRole is { } peerRole) w.WriteString("peer_role", peerRole);
                    if (sync.PeerHeardSecondsAgo is { } ago) w.WriteNumber("peer_heard_seconds_ago", Math.Round(ago, 1));
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            // Flows and sessions held per backend id by every worker (read racily, as the counters are).
            long Live(int id) => host.Load.Held(id);
            w.WriteStartArray("services");
            foreach (var s in snapshot.Services)
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteString("vip", s.Config.Vip.ToString());
                w.WriteNumber("port", s.Port);
                w.WriteString("protocol", ModeNames.Name((TransportProtocol)s.Protocol));
                w.WriteString("mode", ModeNames.Name(s.Mode));
                w.WriteString("interface", host.Interfaces.Name(s.IngressInterface));
                w.WriteString("backend_interface", host.Interfaces.Name(s.EgressInterface));
                w.WriteBoolean("announced", host.Announcer?.IsAnnounced(s) ?? false);
                w.WriteString("table_digest", s.TableDigest(snapshot.HashSeed));
                w.WriteNumber("packets", Sum(host, c => c.ServicePackets[s.Id]));
                w.WriteNumber("bytes", Sum(host, c => c.ServiceBytes[s.Id]));
                w.WriteNumber("flows", Sum(host, c => c.ServiceFlows[s.Id]));
                w.WriteNumber("sessions", Sum(host, c => c.ServiceSessions[s.Id]));
                w.WriteNumber("active_flows", s.Backends.Sum(b => Live(b.Id)));
                var sc = s.Config;
                w.WriteString("health_check", ModeNames.Name(sc.Health.Type));
                w.WriteString("scheduler", ModeNames.Name(s.Scheduler));
                w.WriteString("on_backend_down", ModeNames.Name(sc.OnBackendDown));
                w.WriteString("when_all_down", ModeNames.Name(sc.WhenAllDown));
                w.WriteBoolean("all_down", s.AllDown);
                if (s.Forwarder is ClusterIpForwarder { Settings: var cluster } && sc.Cluster is { } cc)
                {
                    w.WriteString("digest", cluster.Table.Digest);
                    w.WriteNumber("local_node", cluster.LocalNode);
                    w.WriteBoolean("quorum", cluster.HasQuorum);
                    w.WriteNumber("accepted", Sum(host, c => c.ServicePackets[s.Id]));
                    w.WriteNumber("dropped", Sum(host, c => c.Drops[(int)DropReason.NotOwner]));
                    // The transition after the last membership change: how long TCP it does not remember is still
                    // taken only from a SYN, and how many of its buckets still refuse UDP it does not remember.
                    var now = host.ClockMs();
                    w.WriteStartObject("transition");
                    w.WriteNumber("tcp_syn_only_ms", Math.Max(0, cluster.ChangedAtMs + cluster.TcpTransitionMs - now));
                    w.WriteNumber("udp_held_buckets", cluster.Buckets.CountHeld(cluster.Table, cluster.LocalNode, now, cluster.UdpTransitionMs));
                    w.WriteEndObject();
                    w.WriteStartArray("nodes");
                    foreach (var n in cc.Nodes)
                    {
                        var view = host.Backends.Get(s.Name, n.BackendName);
                        w.WriteStartObject();
                        w.WriteNumber("id", n.Id);
                        w.WriteString("address", n.Address.ToString());
                        // Alive as this node sees it (its health checks); without quorum the table still lists everyone.
                        w.WriteBoolean("alive", view?.Health == BackendHealth.Healthy);
                        w.WriteNumber("share", Math.Round(cluster.Table.Share(n.Id), 4));
                        w.WriteString("health", ModeNames.Name(view?.Health ?? BackendHealth.Unknown));
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                w.WriteStartArray("backends");
                foreach (var b in s.Backends)
                {
                    var mac = host.Neighbors.Mac(b.NeighborIndex);
                    w.WriteStartObject();
                    w.WriteString("name", b.Name);
                    w.WriteString("address", s.IsIpv6 ? Ipv6.Format(b.Address6) : Ipv4.Format(b.Address));
                    w.WriteNumber("weight", b.Weight);
                    w.WriteNumber("table_weight", b.TableWeight);
                    w.WriteString("state", State(b, mac.IsZero));
                    w.WriteString("health", ModeNames.Name(b.Health));
                    w.WriteString("intent", ModeNames.Name(b.Intent));
                    w.WriteBoolean("backup", b.IsBackup);
                    w.WriteBoolean("soft_stop", b.SoftStopped);
                    var view = host.Backends.Get(s.Name, b.Name);
                    if (view?.Last is { } last)
                    {
                        w.WriteStartObject("last_check");
                        w.WriteBoolean("ok", last.Ok);
                        w.WriteString("detail", last.Detail);
                        w.WriteString("at", Timestamp(last.At.UtcDateTime));
                        w.WriteEndObject();
                    }
                    else w.WriteNull("last_check");
                    w.WriteNumber("consecutive", view?.Consecutive ?? 0);
                    w.WriteNumber("needed", view?.Needed ?? 0);
                    w.WriteString("mac", mac.IsZero ? "" : mac.ToString());
                    w.WriteNumber("packets", Sum(host, c => c.BackendPackets[b.Id]));
                    w.WriteNumber("bytes", Sum(host, c => c.BackendBytes[b.Id]));
                    w.WriteNumber("flows", Sum(host, c => c.BackendFlows[b.Id]));
                    w.WriteNumber("sessions", Sum(host, c => c.BackendSessions[b.Id]));
                    w.WriteNumber("active_flows", Live(b.Id));
                    var active = host.Load.Active(b.Id);
                    w.WriteNumber("active", active);
                    // Brought up to date from the count now, as a new flow's pick would: a backend whose flows ended
                    // reads not full even before the next flow asks.
                    w.WriteBoolean("full", host.Load.Full(b.Id, active, b.Limit));
                    if (b.Limit.IsLimited)
                    {
                        w.WriteNumber("max_connections", b.Limit.Max);
                        w.WriteNumber("min_connections", b.Limit.Min);
                    }
                    w.WriteStartObject("checks");
                    w.WriteNumber("ok", view?.ChecksOk ?? 0);
                    w.WriteNumber("fail", view?.ChecksFailed ?? 0);
                    w.WriteEndObject();
                    w.WriteNumber("port", b.Port);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("frames");
            w.WriteNumber("rx", Sum(host, c => c.RxFrames));
            w.WriteNumber("tx", Sum(host, c => c.TxFrames));
            w.WriteNumber("passed", Sum(host, c => c.Passed));
            w.WriteNumber("ring_drops", host.KernelRingDrops);
            w.WriteNumber("arp_replies", host.Responders.Sum(r => r.RepliesSent));
            w.WriteNumber("arp_requests_not_claimed", host.Responders.Sum(r => r.RequestsNotClaimed));
            w.WriteNumber("arp_refused", host.Responders.Sum(r => r.Refused));
            w.WriteNumber("nd_advertisements", host.NeighborDiscoveryResponders.Sum(r => r.AdvertisementsSent));
            w.WriteNumber("nd_solicitations_not_claimed", host.NeighborDiscoveryResponders.Sum(r => r.SolicitationsNotClaimed));
            w.WriteNumber("nd_refused", host.NeighborDiscoveryResponders.Sum(r => r.Refused));
            w.WriteNumber("nd_malformed", host.NeighborDiscoveryResponders.Sum(r => r.Malformed));
            w.WriteNumber("nat_replies_without_session", Sum(host, c => c.NatRepliesWithoutSession));
            w.WriteNumber("icmp_sent", Sum(host, c => c.IcmpSent));
            w.WriteNumber("icmp_rate_limited", Sum(host, c => c.IcmpRateLimited));
            w.WriteNumber("vlan_stripped_passed", Sum(host, c => c.VlanStrippedPassed));
            w.WriteEndObject();
            // Events so far per service and kind (service "" for the HA role).
            w.WriteStartArray("state_changes");
            foreach (var (service, kind, count) in host.Control.Events.Counts())
            {
                w.WriteStartObject();
                w.WriteString("service", service);
                w.WriteString("kind", kind);
                w.WriteNumber("count", count);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("drops");
            for (var r = 1; r < (int)DropReason.Count; r++)
                w.WriteNumber(DropReasonNames.Name((DropReason)r), Sum(host, c => c.Drops[r]));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>UTC to the millisecond, as every time in the document is written.</summary>
    private static string Timestamp(DateTime utc) => utc.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>One word for whether a backend takes traffic and, if not, why (first reason wins).</summary>
    private static string State(BackendSnapshot b, bool macUnresolved) =>
        b.Leaving ? "leaving"
        : macUnresolved ? "unresolved"
        : b.Health == BackendHealth.Unhealthy ? "down"
        : b.Health == BackendHealth.Unknown ? "unknown"
        : b.Intent == BackendIntent.Draining || b.SoftStopped || b.Weight == 0 ? "draining"
        : b.TableWeight == 0 ? "standby"
        : "active";

    private static long Sum(Engine host, Func<WorkerCounters, long> pick)
    {
        long total = 0;
        foreach (var worker in host.Workers) total += pick(worker.Processor.Counters);
        return total;
    }

    /// <summary>The human form of the status document.</summary>
    public static string Text(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var sb = new StringBuilder();
        var role = root.TryGetProperty("ha", out var ha) ? $"  ha {ha.GetProperty("role").GetString()} since {ha.GetProperty("since").GetString()}" : "";
        sb.AppendLine($"lb {root.GetProperty("version").GetString()}  up {root.GetProperty("uptime_seconds").GetInt64()}s  workers {root.GetProperty("workers").GetInt32()}{role}");
        if (root.TryGetProperty("ha", out var h) && h.TryGetProperty("sync", out var sync))
            sb.AppendLine($"ha sync with {sync.GetProperty("peer").GetString()}" +
                          (sync.TryGetProperty("peer_role", out var pr) ? $" ({pr.GetString()}, heard {sync.GetProperty("peer_heard_seconds_ago").GetDouble()}s ago)" : " (not heard)") +
                          $"  sent {sync.GetProperty("sent").GetInt64()}  received {sync.GetProperty("received").GetInt64()}  refused {sync.GetProperty("refused").GetInt64()}  " +
                          $"dropped {sync.GetProperty("dropped").GetInt64()}  entries sent {sync.GetProperty("entries_sent").GetInt64()}  installed {sync.GetProperty("installed").GetInt64()}");
        foreach (var s in root.GetProperty("services").EnumerateArray())
        {
            sb.AppendLine();
            sb.AppendLine($"service {s.GetProperty("name").GetString()}  {new IPEndPoint(IPAddress.Parse(s.GetProperty("vip").GetString()!), s.GetProperty("port").GetInt32())}/{s.GetProperty("protocol").GetString()}  " +
                          $"mode {s.GetProperty("mode").GetString()}  packets {s.GetProperty("packets").GetInt64()}  bytes {s.GetProperty("bytes").GetInt64()}  flows {s.GetProperty("flows").GetInt64()}");
            sb.AppendLine($"  scheduler {s.GetProperty("scheduler").GetString()}  health check {s.GetProperty("health_check").GetString()}  on_backend_down {s.GetProperty("on_backend_down").GetString()}  " +
                          $"when_all_down {s.GetProperty("when_all_down").GetString()}{(s.GetProperty("all_down").GetBoolean() ? "  ALL DOWN" : "")}");
            sb.AppendLine($"  {"backend",-12} {"address",-15} {"weight",6} {"state",-10} {"health",-9} {"intent",-8} {"last check",-34} {"packets",10} {"bytes",12} {"flows",7} {"active",7}");
            foreach (var b in s.GetProperty("backends").EnumerateArray())
            {
                var last = b.GetProperty("last_check");
                var check = last.ValueKind == JsonValueKind.Null ? "-"
                    : $"{(last.GetProperty("ok").GetBoolean() ? "ok" : "fail")} {last.GetProperty("detail").GetString()} " +
                      $"{b.GetProperty("consecutive").GetInt32()}/{b.GetProperty("needed").GetInt32()} {last.GetProperty("at").GetString()?[11..19]}";
                var name = b.GetProperty("name").GetString() + (b.GetProperty("backup").GetBoolean() ? " (b)" : "");
                sb.AppendLine($"  {name,-12} {b.GetProperty("address").GetString(),-15} {b.GetProperty("weight").GetInt32(),6} " +
                              $"{b.GetProperty("state").GetString(),-10} {b.GetProperty("health").GetString(),-9} {b.GetProperty("intent").GetString(),-8} {check,-34} " +
                              $"{b.GetProperty("packets").GetInt64(),10} {b.GetProperty("bytes").GetInt64(),12} {b.GetProperty("flows").GetInt64(),7} " +
                              $"{b.GetProperty("active").GetInt64(),7}{Limit(b)}");
            }
        }
        var frames = root.GetProperty("frames");
        sb.AppendLine();
        sb.AppendLine($"frames rx {frames.GetProperty("rx").GetInt64()}  tx {frames.GetProperty("tx").GetInt64()}  passed {frames.GetProperty("passed").GetInt64()}  " +
                      $"ring drops {frames.GetProperty("ring_drops").GetInt64()}  arp replies {frames.GetProperty("arp_replies").GetInt64()}");
        var drops = root.GetProperty("drops").EnumerateObject().Where(p => p.Value.GetInt64() != 0).Select(p => $"{p.Name} {p.Value.GetInt64()}").ToArray();
        sb.AppendLine(drops.Length == 0 ? "drops none" : "drops " + string.Join("  ", drops));
        return sb.ToString();
    }

    /// <summary>A limited backend's thresholds after its active count, and FULL while it takes no new flows.</summary>
    private static string Limit(JsonElement backend) =>
        !backend.TryGetProperty("max_connections", out var max) ? ""
            : $" /{max.GetInt32()} (min {backend.GetProperty("min_connections").GetInt32()}){(backend.GetProperty("full").GetBoolean() ? " FULL" : "")}";
}

internal static class VersionInfo
{
    public static string Text =>
        typeof(VersionInfo).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
