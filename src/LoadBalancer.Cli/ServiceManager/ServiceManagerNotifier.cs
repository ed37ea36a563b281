using System.Net.Sockets;
using System.Text;
using LoadBalancer.Hosting;

namespace LoadBalancer.Cli.ServiceManager;

/// <summary>The service manager's notification protocol (sd_notify(3)), spoken directly: each message is one datagram
/// of <c>KEY=VALUE</c> lines to the unix datagram socket named by <c>NOTIFY_SOCKET</c> (an absolute path, or
/// <c>@name</c> for the abstract namespace). <c>lb run</c> says <c>READY=1</c> once it serves, <c>RELOADING=1</c> and
/// <c>READY=1</c> around a reload, <c>STOPPING=1</c> when told to stop, and <c>WATCHDOG=1</c> (from
/// <see cref="ServiceManagerWatchdog"/>) while its loops move. Without <c>NOTIFY_SOCKET</c> every call does nothing.
/// A send that fails is logged once and otherwise ignored: the engine's work never depends on being heard.
/// (Not Microsoft.Extensions.Hosting.Systemd's notifier: it brings the generic host with it and throws on a failed
/// send, for the ~40 lines this is.)</summary>
internal sealed class ServiceManagerNotifier : IDisposable
{
    public const string SocketVariable = "NOTIFY_SOCKET";

    private readonly UnixDomainSocketEndPoint? _endPoint;
    private readonly Socket? _socket;
    private readonly EngineLog _log;
    private readonly Func<long> _monotonicMicroseconds;
    // Serialises sends from the main, reload and watchdog threads, so their messages keep their order, and guards the
    // two flags below.
    private readonly object _gate = new();
    private bool _failed;
    private bool _stopping;

    /// <param name="address">NOTIFY_SOCKET's value; null or empty: disabled.</param>
    /// <param name="monotonicMicroseconds">CLOCK_MONOTONIC in µs, for <c>MONOTONIC_USEC</c>.</param>
    public ServiceManagerNotifier(string? address, EngineLog log, Func<long> monotonicMicroseconds)
    {
        _log = log;
        _monotonicMicroseconds = monotonicMicroseconds;
        if (string.IsNullOrEmpty(address)) return;
        if (EndPoint(address) is not { } endPoint)
        {
            log.Warn($"{SocketVariable}={address} is neither an absolute path nor @abstract: the service manager is not told anything");
            return;
        }
        Address = address;
        _endPoint = endPoint;
        // Bounded: a datagram to a receiver whose queue is full blocks, and a wedged service manager must not wedge
        // the thread that tells it something (the main thread at stop, a reload, the watchdog).
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { SendTimeout = SendTimeoutMs };
    }

    private const int SendTimeoutMs = 1000;

    public static ServiceManagerNotifier FromEnvironment(EngineLog log, Func<long> monotonicMicroseconds) =>
        new(Environment.GetEnvironmentVariable(SocketVariable), log, monotonicMicroseconds);

    /// <summary>Whether anything is sent (NOTIFY_SOCKET names a socket).</summary>
    public bool Enabled => _socket is not null;

    /// <summary>NOTIFY_SOCKET as given, when enabled.</summary>
    public string? Address { get; }

    /// <summary>The socket address NOTIFY_SOCKET names: a leading <c>@</c> stands for the NUL that starts an abstract
    /// name (unix(7)), which is then as long as what follows it, with no terminating NUL. Null for anything else
    /// (a relative path, systemd's <c>vsock:</c> addresses).</summary>
    public static UnixDomainSocketEndPoint? EndPoint(string address) =>
        address.Length > 1 && address[0] == '@' ? new UnixDomainSocketEndPoint("\0" + address[1..])
        : address.StartsWith('/') ? new UnixDomainSocketEndPoint(address)
        : null;

    public static string ReadyMessage(string status) => "READY=1\n" + StatusLine(status);
    public static string ReloadingMessage(long monotonicMicroseconds, string status) =>
        $"RELOADING=1\nMONOTONIC_USEC={monotonicMicroseconds}\n" + StatusLine(status);
    public static string StoppingMessage(string status) => "STOPPING=1\n" + StatusLine(status);
    public const string WatchdogMessage = "WATCHDOG=1";
    public static string StatusMessage(string status) => StatusLine(status);

    // One line: a newline in the text would start a key of its own.
    private static string StatusLine(string status) => "STATUS=" + status.ReplaceLineEndings(" ");

    /// <summary>Serving (at start, and after each reload). Once stopping, no longer said: a reload that ends while the
    /// engine stops must not announce it ready again.</summary>
    public void Ready(string status) => Send(ReadyMessage(status), unlessStopping: true);

    /// <summary>A reload begins; <c>MONOTONIC_USEC</c> tells the service manager which reload the next READY=1 ends.</summary>
    public void Reloading(string status) => Send(ReloadingMessage(_monotonicMicroseconds(), status), unlessStopping: true);

    /// <summary>Told to stop, before the teardown.</summary>
    public void Stopping(string status)
    {
        lock (_gate) _stopping = true;
        Send(StoppingMessage(status), unlessStopping: false);
    }

    public void Watchdog() => Send(WatchdogMessage, unlessStopping: true);

    public void Status(string status) => Send(StatusMessage(status), unlessStopping: false);

    private void Send(string message, bool unlessStopping)
    {
        if (_socket is null) return;
        lock (_gate)
        {
            if (unlessStopping && _stopping) return;
            try
            {
                // A datagram this small is never split; an unbound sender is fine (the kernel attaches our
                // credentials, which is how the service manager knows the message is the main process's).
                _socket.SendTo(Encoding.UTF8.GetBytes(message), SocketFlags.None, _endPoint!);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_failed) return;
                _failed = true;
                _log.Warn($"cannot notify the service manager at {Address} ({e.Message}); further failures are not logged");
            }
        }
    }

    public void Dispose()
    {
        lock (_gate) _socket?.Dispose();
    }
}
