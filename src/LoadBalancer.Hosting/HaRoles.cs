using LoadBalancer.Core.Model;

namespace LoadBalancer.Hosting;

/// <summary>The engine's place in an active/standby pair. keepalived runs VRRP and tells the engine what it
/// decided (<c>lb ha master|backup|fault</c> from its <c>notify_*</c> scripts); this keeps the answer and applies
/// it: a master answers ARP for the VIPs and announces them by gratuitous ARP when it takes over, a backup (and a
/// fault, which behaves as one) answers none and announces none. Forwarding never depends on the role: a frame
/// that reaches a backup while the switch settles is forwarded, not lost. Without an <c>ha:</c> section the engine
/// is a lone balancer that always claims its VIPs. Thread-safe: control requests arrive on the socket's thread.</summary>
public sealed class HaRoles
{
    /// <summary>A lone balancer's announcements at start: two, a second apart (the second covers a router that
    /// missed the first).</summary>
    private const int LoneAnnouncements = 2;
    private static readonly TimeSpan LoneInterval = TimeSpan.FromSeconds(1);

    private readonly HaConfig? _config;
    private readonly EngineLog _log;
    private readonly object _gate = new();
    // Written under the gate, read by every ARP thread without it.
    private volatile HaRole _role;
    private int _announceRound;

    public HaRoles(HaConfig? config, EngineLog log)
    {
        _config = config;
        _log = log;
        _role = config?.InitialRole ?? HaRole.Master;
        Since = DateTime.UtcNow;
        ChangedBy = config is null ? null : "initial_role";
    }

    /// <summary>False for a lone balancer (no <c>ha:</c> section): it has no role to change.</summary>
    public bool Enabled => _config is not null;
    public HaRole Role => _role;
    public DateTime Since { get; private set; }
    /// <summary>Who asked for the current role (the caller named in the request, or <c>initial_role</c>).</summary>
    public string? ChangedBy { get; private set; }
    public bool ClaimsVips => Role == HaRole.Master;

    /// <summary>Raised after each change, under the gate, with the new role (state sync sends only while master).</summary>
    public event Action<HaRole>? Changed;
    /// <summary>A change with what the role was and who asked (the state-change event).</summary>
    public event Action<HaRole, HaRole, string>? RoleChanged;

    /// <summary>Gratuitous ARPs per VIP for the current round and the time between them.</summary>
    public int AnnounceCount => _config?.GarpCount ?? LoneAnnouncements;
    public TimeSpan AnnounceInterval => _config?.GarpInterval ?? LoneInterval;
    /// <summary>Bumped at every takeover; an ARP service that sees it change starts a new round of announcements.</summary>
    public int AnnounceRound => Volatile.Read(ref _announceRound);

    /// <summary>A new round of gratuitous ARPs for every VIP (a reload added some), sent only while this node claims them.</summary>
    public void Reannounce() => Interlocked.Increment(ref _announceRound);

    /// <summary><c>lb ha master|backup|fault</c>. Logged once per change, with who asked.</summary>
    public ControlResult Set(HaRole role, string by)
    {
        if (_config is null) return new ControlResult(false, "this engine has no ha: section; it always claims its VIPs");
        lock (_gate)
        {
            var message = $"ha role {ModeNames.Name(role)}";
            if (role == Role) return new ControlResult(false, null, message);
            var was = Role;
            Since = DateTime.UtcNow;
            ChangedBy = by;
            _role = role;
            if (role == HaRole.Master) Interlocked.Increment(ref _announceRound);
            Changed?.Invoke(role);
            RoleChanged?.Invoke(was, role, by);
            _log.Info($"{message} (was {ModeNames.Name(was)}), asked by {by}" +
                      (role == HaRole.Master ? $": answering ARP for the VIPs, {AnnounceCount} gratuitous ARPs" : ": VIPs left to the master"));
            return new ControlResult(true, null, message);
        }
    }
}
