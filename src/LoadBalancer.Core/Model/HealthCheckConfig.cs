namespace LoadBalancer.Core.Model;

public enum HealthCheckType
{
    None,
    Tcp,
    Http,
    Https,
    Udp,
    Exec,
}

public readonly record struct StatusRange(int From, int To)
{
    public bool Contains(int status) => status >= From && status <= To;
    public override string ToString() => From == To ? $"{From}" : $"{From}-{To}";
}

/// <summary>A user an exec check runs as (<c>user:</c>), as the user database (getpwnam) gave it when the config
/// was read: the command gets <paramref name="Uid"/>, the primary group <paramref name="Gid"/> and the user's
/// supplementary groups, and <paramref name="Home"/> as HOME.</summary>
public sealed record ExecUser(string Name, uint Uid, uint Gid, string Home);

/// <summary>A service's <c>health:</c> section as written. Absent means <c>type: none</c>: every backend
/// counts as healthy from the start.</summary>
public sealed record HealthCheckConfig
{
    public static readonly HealthCheckConfig None = new() { Type = HealthCheckType.None };

    public HealthCheckType Type { get; init; } = HealthCheckType.None;
    /// <summary>Port to probe; null means the backend's own port.</summary>
    public int? Port { get; init; }
    /// <summary>http/https request line.</summary>
    public string Request { get; init; } = "GET / HTTP/1.0";
    public string? Host { get; init; }
    /// <summary>http/https status ranges that count as healthy.</summary>
    public IReadOnlyList<StatusRange> Expect { get; init; } = [new(200, 399)];
    /// <summary>http/https: the status that means "alive, but drain me" (HAProxy's disable-on-404): the
    /// backend gets no new flows and keeps its existing ones, so removing a file such as /running on the
    /// server drains it with no change on the balancer. Default 404; null turns it off.</summary>
    public int? SoftStopStatus { get; init; } = 404;
    /// <summary>udp: the datagram to send.</summary>
    public string Payload { get; init; } = "";
    /// <summary>udp: healthy only when the reply contains this text; empty means any reply.</summary>
    public string Reply { get; init; } = "";
    /// <summary>exec: run through /bin/sh -c, with {address} and {port} substituted.</summary>
    public string Command { get; init; } = "";
    /// <summary>exec: the user the command runs as, with that user's groups; null runs it as the checker's own
    /// user (root inside <c>lb run</c> started by root, the engine's user otherwise; only root can name another).
    /// Either way it gets a minimal environment, not the checker's.</summary>
    public ExecUser? User { get; init; }
    /// <summary>The line of <c>user:</c> (0 without one), for a refusal by an engine that cannot become that user.</summary>
    public int UserLine { get; init; }
    /// <summary>https: verify the server certificate (default off, as HAProxy's check-ssl without verify).</summary>
    public bool VerifyCertificate { get; init; }
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
    public int Rise { get; init; } = 2;
    public int Fall { get; init; } = 2;
    /// <summary>Health of a backend before its first verdict: unknown (no traffic until it passes
    /// <see cref="Rise"/> checks, the default) or healthy (traffic at once, out after <see cref="Fall"/> failures).</summary>
    public BackendHealth Initial { get; init; } = BackendHealth.Unknown;
    public int Line { get; init; }

    /// <summary>Whether two checks probe the same way (everything but where they were written): a reload restarts
    /// the checks whose settings differ, and only those.</summary>
    public bool SameSettings(HealthCheckConfig other) =>
        this with { Line = 0, UserLine = 0, Expect = NoRanges } == other with { Line = 0, UserLine = 0, Expect = NoRanges } && Expect.SequenceEqual(other.Expect);

    // One instance: record equality compares the list by reference.
    private static readonly IReadOnlyList<StatusRange> NoRanges = Array.Empty<StatusRange>();
}

