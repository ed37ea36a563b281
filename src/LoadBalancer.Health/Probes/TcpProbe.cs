using System.Net;
using System.Net.Sockets;

namespace LoadBalancer.Health.Probes;

/// <summary><c>tcp</c>: healthy when a connection can be made; it is closed at once without sending anything.</summary>
internal sealed class TcpProbe : IHealthProbe
{
    public static readonly TcpProbe Instance = new();

    public Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken) =>
        ProbeTimeout.RunAsync(target, cancellationToken, async token =>
            await ConnectAsync(target.Address, target.Port, token).ConfigureAwait(false) is { } error
                ? new ProbeResult(false, $"tcp connect {ProbeText.Describe(error)}")
                : new ProbeResult(true, "tcp connect ok"));

    /// <summary>Connects and closes at once; null when the connection was made, else why not.</summary>
    internal static async Task<SocketError?> ConnectAsync(IPAddress address, int port, CancellationToken token)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, port), token).ConfigureAwait(false);
            return null;
        }
        catch (SocketException e) when (!token.IsCancellationRequested)
        {
            return e.SocketErrorCode;
        }
    }
}
