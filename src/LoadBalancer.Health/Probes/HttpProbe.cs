using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Health.Probes;

/// <summary><c>http</c> and <c>https</c>: connects, sends the configured request line with a <c>Host:</c>
/// header (when configured, or the address for HTTP/1.1, which requires one) and <c>Connection: close</c>,
/// reads only the status line, and is healthy when the status is in <see cref="HealthCheckConfig.Expect"/>.
/// The body is never read: the status is the verdict, and closing early costs the backend nothing.
/// https wraps the same exchange in TLS; the certificate is checked only with
/// <see cref="HealthCheckConfig.VerifyCertificate"/> (as HAProxy's check-ssl without verify).</summary>
internal sealed class HttpProbe : IHealthProbe
{
    public static readonly HttpProbe Http = new(tls: false);
    public static readonly HttpProbe Https = new(tls: true);

    // A status line is "HTTP/1.1 200 OK"; a backend sending more than this without a line end is not an HTTP server.
    private const int MaxStatusLine = 1024;

    private readonly bool _tls;
    private readonly string _scheme;

    private HttpProbe(bool tls)
    {
        _tls = tls;
        _scheme = tls ? "https" : "http";
    }

    public Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken) =>
        ProbeTimeout.RunAsync(target, cancellationToken, token => ExchangeAsync(target, token));

    private async Task<ProbeResult> ExchangeAsync(HealthTarget target, CancellationToken token)
    {
        // Names the step that failed in the detail: "http connect refused", "http read reset".
        var step = "connect";
        using var socket = new Socket(target.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(target.Address, target.Port), token).ConfigureAwait(false);
            await using var network = new NetworkStream(socket, ownsSocket: false);
            Stream stream = network;
            SslStream? ssl = null;
            if (_tls)
            {
                step = "handshake";
                var (sslStream, failure) = await HandshakeAsync(network, target, token).ConfigureAwait(false);
                if (failure is not null) return new ProbeResult(false, failure);
                ssl = sslStream;
                stream = sslStream!;
            }
            await using (ssl)
            {
                step = "send";
                await stream.WriteAsync(Request(target, _tls), token).ConfigureAwait(false);
                await stream.FlushAsync(token).ConfigureAwait(false);
                step = "read";
                var line = await ReadStatusLineAsync(stream, token).ConfigureAwait(false);
                if (line is null) return new ProbeResult(false, $"{_scheme} closed before status line");
                if (!TryParseStatus(line, out var status))
                    return new ProbeResult(false, $"{_scheme} bad status line '{ProbeText.Quote(line)}'");
                if (status == target.Check.SoftStopStatus)
                    return new ProbeResult(true, $"{_scheme} {status} (soft-stop)", SoftStop: true);
                var ok = target.Check.Expect.Any(range => range.Contains(status));
                return new ProbeResult(ok, $"{_scheme} {status}");
            }
        }
        catch (SocketException e) when (!token.IsCancellationRequested)
        {
            return new ProbeResult(false, $"{_scheme} {step} {ProbeText.Describe(e.SocketErrorCode)}");
        }
        catch (IOException e) when (!token.IsCancellationRequested)
        {
            var what = e.InnerException is SocketException s ? ProbeText.Describe(s.SocketErrorCode) : "failed";
            return new ProbeResult(false, $"{_scheme} {step} {what}");
        }
    }

    /// <summary>The request bytes: the configured line, Host when due, Connection: close, blank line.</summary>
    internal static byte[] Request(HealthTarget target, bool tls)
    {
        var check = target.Check;
        var line = check.Request.Trim();
        var host = check.Host ?? (NeedsHost(line) ? DefaultHost(target, tls) : null);
        var text = new StringBuilder(line).Append("\r\n");
        if (host is not null) text.Append("Host: ").Append(host).Append("\r\n");
        text.Append("Connection: close\r\n\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>HTTP/1.1 and later require a Host header; HTTP/1.0 (the default request) and 0.9 do not.</summary>
    private static bool NeedsHost(string requestLine)
    {
        var version = requestLine[(requestLine.LastIndexOf(' ') + 1)..];
        return version.StartsWith("HTTP/", StringComparison.Ordinal) && version is not ("HTTP/1.0" or "HTTP/0.9");
    }

    /// <summary>The address, bracketed if IPv6, with the port unless it is the scheme's default (RFC 9110 7.2).</summary>
    private static string DefaultHost(HealthTarget target, bool tls)
    {
        var address = target.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{target.Address}]" : target.Address.ToString();
        return target.Port == (tls ? 443 : 80) ? address : $"{address}:{target.Port}";
    }

    /// <summary>The SNI name: the configured Host without a port. Null when no Host is configured: a
    /// bare address is never sent as SNI (RFC 6066 allows only names).</summary>
    internal static string? ServerName(string? host)
    {
        if (string.IsNullOrEmpty(host)) return null;
        if (host.StartsWith('[')) return null;   // an IPv6 literal
        var colon = host.IndexOf(':');
        return colon < 0 ? host : host[..colon];
    }

    private async Task<(SslStream?, string?)> HandshakeAsync(NetworkStream network, HealthTarget target, CancellationToken token)
    {
        var check = target.Check;
        var errors = SslPolicyErrors.None;
        var ssl = new SslStream(network, leaveInnerStreamOpen: true);
        var options = new SslClientAuthenticationOptions
        {
            // Without a name, the address is the target host: .NET sends no SNI for it, and with
            // verification on the certificate must then name the address.
            TargetHost = ServerName(check.Host) ?? target.Address.ToString(),
            RemoteCertificateValidationCallback = (_, _, _, policyErrors) =>
            {
                errors = policyErrors;
                return !check.VerifyCertificate || policyErrors == SslPolicyErrors.None;
            },
        };
        try
        {
            await ssl.AuthenticateAsClientAsync(options, token).ConfigureAwait(false);
            return (ssl, null);
        }
        catch (AuthenticationException) when (!token.IsCancellationRequested)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            return (null, errors == SslPolicyErrors.None ? "https handshake failed" : $"https certificate {Describe(errors)}");
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static string Describe(SslPolicyErrors errors)
    {
        var words = new List<string>(3);
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)) words.Add("missing");
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch)) words.Add("name mismatch");
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors)) words.Add("untrusted");
        return string.Join(", ", words);
    }

    /// <summary>Reads up to the first line end; null when the peer closed before sending one.</summary>
    private static async Task<string?> ReadStatusLineAsync(Stream stream, CancellationToken token)
    {
        var buffer = new byte[MaxStatusLine];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(filled), token).ConfigureAwait(false);
            if (read == 0) return null;
            var end = Array.IndexOf(buffer, (byte)'\n', filled, read);
            filled += read;
            if (end >= 0) return Encoding.Latin1.GetString(buffer, 0, end).TrimEnd('\r');
        }
        return Encoding.Latin1.GetString(buffer, 0, filled);
    }

    /// <summary>"HTTP/1.1 200 OK" → 200. The reason phrase is optional (RFC 9112 4).</summary>
    internal static bool TryParseStatus(string line, out int status)
    {
        status = 0;
        if (!line.StartsWith("HTTP/", StringComparison.Ordinal)) return false;
        var space = line.IndexOf(' ');
        if (space < 0 || line.Length < space + 4) return false;
        var code = line.AsSpan(space + 1, 3);
        if (line.Length > space + 4 && line[space + 4] != ' ') return false;
        foreach (var c in code)
        {
            if (c is < '0' or > '9') return false;
            status = status * 10 + (c - '0');
        }
        return status >= 100;
    }
}
