using System.Net;
using System.Net.Sockets;

namespace LoadBalancer.Cli.Platform;

/// <summary>CLUSTERIP: a TCP listener on the node's own address that exists exactly as long as this engine
/// does. Peers connect to it before their health check of this node (the kernel closes it when the process
/// dies, however it dies), so a node whose engine is gone is seen dead and its share taken over, even while
/// its application still answers. Connections are accepted and closed at once; nothing is exchanged.</summary>
internal sealed class EngineHeartbeat : IDisposable
{
    private readonly Socket _socket;
    private readonly Task _accepting;

    private EngineHeartbeat(Socket socket)
    {
        _socket = socket;
        _accepting = AcceptAsync();
    }

    public static EngineHeartbeat Listen(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // No SO_REUSEADDR: a second engine on this node must fail here, not share the port.
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(64);
            return new EngineHeartbeat(socket);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            var hint = e.SocketErrorCode == SocketError.AddressNotAvailable
                ? " (is local_node's address configured on this host?)"
                : e.SocketErrorCode == SocketError.AddressAlreadyInUse ? " (another engine, or another program, holds it; see cluster.heartbeat_port)" : "";
            throw new InvalidOperationException($"cannot listen for peers' heartbeat on {address}:{port}: {e.Message}{hint}", e);
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                using var peer = await _socket.AcceptAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Closed by Dispose.
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _accepting.Wait(TimeSpan.FromSeconds(1));
    }
}
