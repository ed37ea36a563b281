using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Health.Tests;

/// <summary>Small servers on 127.0.0.1 (or another loopback address, ::1 for IPv6) with ephemeral ports for the
/// probes to talk to. Each stops, and closes every connection it holds, when disposed.</summary>
internal static class TestServers
{
    public static HealthTarget Target(int port, HealthCheckConfig check, string backend = "web1", IPAddress? address = null) =>
        new("web", backend, address ?? IPAddress.Loopback, port, check);

    /// <summary>How long a probe against a hanging server may take beyond its timeout before the test calls
    /// it stuck: generous, since the machine is shared; the point is that it finishes.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(10);

    /// <summary>Runs <paramref name="probe"/> against <paramref name="port"/>, failing with a <see cref="TimeoutException"/>
    /// when it has not finished within the check's timeout plus <see cref="Margin"/>.</summary>
    public static Task<ProbeResult> CheckWithinTimeoutAsync(IHealthProbe probe, int port, HealthCheckConfig check, IPAddress? address = null) =>
        probe.CheckAsync(Target(port, check, address: address), CancellationToken.None).WaitAsync(check.Timeout + Margin);

    /// <summary>A TCP port on 127.0.0.1 (or <paramref name="address"/>) where a connect is refused, reserved for as
    /// long as the result lives.</summary>
    public static ClosedPort ClosedTcpPort(IPAddress? address = null) => ClosedPort.Reserve(SocketType.Stream, ProtocolType.Tcp, address ?? IPAddress.Loopback);

    /// <summary>A UDP port on 127.0.0.1 (or <paramref name="address"/>) that answers a datagram with port unreachable,
    /// reserved for as long as the result lives.</summary>
    public static ClosedPort ClosedUdpPort(IPAddress? address = null) => ClosedPort.Reserve(SocketType.Dgram, ProtocolType.Udp, address ?? IPAddress.Loopback);

    /// <summary>Probes a closed UDP port until the probe meets the kernel's port unreachable, at most ten times 100 ms
    /// apart, and returns the last result. "Refused" is the kernel's ICMP (ICMPv6) port unreachable, and the kernel
    /// rate-limits those per namespace even on loopback (icmp_msgs_per_sec/icmp_msgs_burst: a burst of about 50,
    /// then about one per millisecond, IcmpOutRateLimitGlobal in /proc/net/snmp counting what it suppressed; for
    /// ICMPv6 net.ipv6.icmp.ratelimit as well, Icmp6OutRateLimitHost in /proc/net/snmp6). Everything else in the root
    /// namespace spends the same budget, so a single probe can meet a silent port and time out (seen once in CI).
    /// Only a timeout is tried again: any other answer than refused still fails the test.</summary>
    public static async Task<ProbeResult> ProbeClosedUdpPortAsync(IHealthProbe probe, HealthTarget target)
    {
        var timedOut = $"timeout after {target.Check.Timeout.TotalMilliseconds:0} ms";
        ProbeResult result = new(false, "not probed");
        for (var attempt = 0; attempt < 10; attempt++)
        {
            result = await probe.CheckAsync(target, CancellationToken.None);
            if (result.Detail != timedOut) break;
            await Task.Delay(100);
        }
        return result;
    }

    /// <summary>A self-signed certificate for <paramref name="name"/>, made fresh for the test.</summary>
    public static X509Certificate2 SelfSignedCertificate(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(name);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
        // Through PKCS#12 so the private key is a persisted one that SslStream can use as a server key.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}

/// <summary>Accepts TCP connections on 127.0.0.1 (or <c>address</c>) and hands each to <c>Serve</c>.</summary>
internal abstract class TcpTestServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<TcpClient> _clients = [];
    private readonly Task _accepting;
    private int _accepted;

    protected TcpTestServer(IPAddress? address = null)
    {
        _listener = new TcpListener(address ?? IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }
    public int Accepted => Volatile.Read(ref _accepted);
    protected CancellationToken Stopping => _stop.Token;

    protected abstract Task ServeAsync(TcpClient client);

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _clients.Add(client);
                Interlocked.Increment(ref _accepted);
                _ = ServeGuardedAsync(client);
            }
        }
        catch (Exception e) when (_stop.IsCancellationRequested
                                  && e is OperationCanceledException or InvalidOperationException or SocketException or ObjectDisposedException)
        {
            // Disposal stops the listener; a loop already past the token check sees "not listening" instead
            // of a cancellation, which is the same ending.
        }
    }

    private async Task ServeGuardedAsync(TcpClient client)
    {
        try
        {
            await ServeAsync(client);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException
                                      or System.Security.Authentication.AuthenticationException)
        {
            // The probe hung up (at its timeout, or after the status line): nothing to serve.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        foreach (var client in _clients) client.Dispose();
        _stop.Dispose();
    }
}

/// <summary>Answers every request with <c>status</c>, over TLS when given a certificate; keeps each request's
/// head (request line and headers) and, with TLS, the SNI name the client sent.</summary>
internal sealed class HttpTestServer(int status, X509Certificate2? certificate = null, IPAddress? address = null) : TcpTestServer(address)
{
    public ConcurrentQueue<string> Requests { get; } = new();
    public ConcurrentQueue<string> ServerNames { get; } = new();

    protected override async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            Stream stream = client.GetStream();
            if (certificate is not null)
            {
                var ssl = new SslStream(stream);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, Stopping);
                ServerNames.Enqueue(ssl.TargetHostName);
                stream = ssl;
            }
            await using (stream)
            {
                var head = await ReadHeadAsync(stream);
                if (head is null) return;
                Requests.Enqueue(head);
                var response = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} Test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                await stream.WriteAsync(response, Stopping);
            }
        }
    }

    private async Task<string?> ReadHeadAsync(Stream stream)
    {
        var head = new StringBuilder();
        var buffer = new byte[1024];
        while (head.Length < 16 * 1024)
        {
            var read = await stream.ReadAsync(buffer, Stopping);
            if (read == 0) return null;
            head.Append(Encoding.Latin1.GetString(buffer, 0, read));
            var end = head.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0) return head.ToString(0, end);
        }
        return null;
    }
}

/// <summary>Accepts connections and never sends or closes anything (until disposed).</summary>
internal sealed class SilentTcpServer(IPAddress? address = null) : TcpTestServer(address)
{
    protected override Task ServeAsync(TcpClient client) => Task.CompletedTask;
}

/// <summary>Sends a fixed text and closes: not an HTTP server (or one that hangs up at once when the text is empty).</summary>
internal sealed class FixedReplyTcpServer(string reply) : TcpTestServer
{
    protected override async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            if (reply.Length > 0) await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(reply), Stopping);
        }
    }
}

/// <summary>A UDP server on 127.0.0.1 (or <c>address</c>) that answers each datagram with <c>answer(datagram)</c>, or
/// stays silent when that returns null. Keeps what it received.</summary>
internal sealed class UdpTestServer : IAsyncDisposable
{
    private readonly UdpClient _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<string, string?> _answer;
    private readonly Task _serving;

    public UdpTestServer(Func<string, string?> answer, IPAddress? address = null)
    {
        var local = address ?? IPAddress.Loopback;
        _socket = new UdpClient(new IPEndPoint(local, 0));
        _answer = answer;
        Port = ((IPEndPoint)_socket.Client.LocalEndPoint!).Port;
        _serving = ServeAsync();
    }

    public int Port { get; }
    public ConcurrentQueue<string> Received { get; } = new();

    private async Task ServeAsync()
    {
        try
        {
            while (true)
            {
                var datagram = await _socket.ReceiveAsync(_stop.Token);
                var text = Encoding.UTF8.GetString(datagram.Buffer);
                Received.Enqueue(text);
                if (_answer(text) is { } answer)
                    await _socket.SendAsync(Encoding.UTF8.GetBytes(answer), datagram.RemoteEndPoint, _stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _serving;
        _socket.Dispose();
        _stop.Dispose();
    }
}

/// <summary>A port nobody answers on that stays that way: a freed port can be taken by any socket bound in the
/// meantime (a parallel test, another process), and a probe of it then waits out its timeout instead of being
/// refused. So the port stays bound by a socket that cannot answer: TCP bound but not listening (a SYN gets a
/// reset), UDP connected to another port (a datagram from anyone else finds no socket: port unreachable).</summary>
internal sealed class ClosedPort : IDisposable
{
    private readonly Socket _holder;

    private ClosedPort(Socket holder)
    {
        _holder = holder;
        Port = ((IPEndPoint)holder.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public static ClosedPort Reserve(SocketType type, ProtocolType protocol, IPAddress address)
    {
        var holder = new Socket(address.AddressFamily, type, protocol);
        holder.Bind(new IPEndPoint(address, 0));
        // Port 9 (discard) on loopback: nothing of ours sends from there.
        if (protocol == ProtocolType.Udp) holder.Connect(new IPEndPoint(address, 9));
        return new ClosedPort(holder);
    }

    public void Dispose() => _holder.Dispose();
}
