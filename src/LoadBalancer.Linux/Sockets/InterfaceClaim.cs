using System.Net.Sockets;

namespace LoadBalancer.Linux.Sockets;

/// <summary>This engine's claim on an interface: a listening Unix socket bound to the abstract name
/// <c>lb/interface/NAME</c>. Abstract names are per network namespace, like interface names, and the kernel drops
/// one with the last descriptor holding it, so a claim dies with its engine, SIGKILL included, and never goes stale.
/// A second engine on the same interface fails to bind and must refuse before it touches anything: it would
/// replace the first one's ingress drop, and remove it again on exit.</summary>
public sealed class InterfaceClaim : IDisposable
{
    private readonly Socket _socket;

    private InterfaceClaim(Socket socket) => _socket = socket;

    public static string NameFor(string interfaceName) => "\0lb/interface/" + interfaceName;

    /// <summary>The claim, or null when another process in this network namespace holds it.</summary>
    public static InterfaceClaim? TryTake(string interfaceName)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(NameFor(interfaceName)));
            socket.Listen(1);
            return new InterfaceClaim(socket);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            return null;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => _socket.Dispose();
}
