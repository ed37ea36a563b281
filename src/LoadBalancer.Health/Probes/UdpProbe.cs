using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LoadBalancer.Health.Probes;

/// <summary><c>udp</c>: sends <see cref="Core.Model.HealthCheckConfig.Payload"/> and waits for a reply
/// within the timeout; healthy on any reply, or only on one containing
/// <see cref="Core.Model.HealthCheckConfig.Reply"/> when that is set. The socket is connected to the
/// target, so Linux hands back the ICMP (or ICMPv6) port unreachable the backend's kernel sends for a closed
/// port as ECONNREFUSED on the next receive: that is reported as <c>udp refused</c>, at once, instead of
/// waiting out the timeout.</summary>
internal sealed class UdpProbe : IHealthProbe
{
    public static readonly UdpProbe Instance = new();

    // Largest UDP payload over IPv6 without jumbograms (65535 - 8; over IPv4 it is 65507); a shorter buffer would
    // truncate a reply and could cut off the expected text.
    private const int MaxDatagram = 65527;

    public Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken) =>
        ProbeTimeout.RunAsync(target, cancellationToken, async token =>
        {
            var check = target.Check;
            using var socket = new Socket(target.Address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(target.Address, target.Port), token).ConfigureAwait(false);
                await socket.SendAsync(Encoding.UTF8.GetBytes(check.Payload), SocketFlags.None, token).ConfigureAwait(false);
                var buffer = new byte[MaxDatagram];
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, token).ConfigureAwait(false);
                var reply = Encoding.UTF8.GetString(buffer, 0, read);
                var ok = check.Reply.Length == 0 || reply.Contains(check.Reply, StringComparison.Ordinal);
                return new ProbeResult(ok, $"udp {(ok ? "reply" : "unexpected reply")} '{ProbeText.Quote(reply)}'");
            }
            catch (SocketException e) when (!token.IsCancellationRequested)
            {
                return new ProbeResult(false, $"udp {ProbeText.Describe(e.SocketErrorCode)}");
            }
        });
}
