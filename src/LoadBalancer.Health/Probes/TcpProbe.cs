using System.Net;
using System.Net.Sockets;

namespace LoadBalancer.Health.Probes;

/// <summary><c>tcp</c>: healthy when a connection can be made; it is closed at once without sending anything.</summary>
internal sealed class TcpProbe : IHealthProbe
{
    public static readonly TcpProbe Instance = new();

    public Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken) =>
        ProbeTimeout.RunAsync(target, cancellationToken, async token =>
        {
            using var socket = new Socket(target.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(target.Address, target.Port), token).ConfigureAwait(false);
            }
            catch (SocketException e) when (!token.IsCancellationRequested)
            {
                return new ProbeResult(false, $"tcp connect {ProbeText.Describe(e.SocketErrorCode)}");
            }
            return new ProbeResult(true, "tcp connect ok");
        });
}
