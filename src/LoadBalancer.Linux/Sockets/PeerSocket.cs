using System.Net;
using System.Net.Sockets;
using System.Text;
using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Sockets;

/// <summary>A UDP socket bound to one port on every address (or, with an interface, on that device only through
/// SO_BINDTODEVICE), sending to one peer: the HA pair's state sync. The source of what arrives is reported, not
/// filtered: refusing strangers is the protocol's job, so that it can count them.</summary>
public sealed class PeerSocket : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _peer;
    private EndPoint _from = new IPEndPoint(IPAddress.Any, 0);

    private PeerSocket(Socket socket, IPEndPoint peer)
    {
        _socket = socket;
        _peer = peer;
    }

    public static PeerSocket Open(IPAddress peer, int port, string? interfaceName)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (interfaceName is not null)
                socket.SetRawSocketOption(LibC.SOL_SOCKET, LibC.SO_BINDTODEVICE, Encoding.ASCII.GetBytes(interfaceName + "\0"));
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return new PeerSocket(socket, new IPEndPoint(peer, port));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new InvalidOperationException($"sync socket on port {port}{(interfaceName is null ? "" : $" of {interfaceName}")}: {e.Message}", e);
        }
    }

    public bool Send(ReadOnlySpan<byte> message)
    {
        try
        {
            return _socket.SendTo(message, SocketFlags.None, _peer) == message.Length;
        }
        catch (SocketException)
        {
            return false; // no route to the peer yet, or its port unreachable: counted by the caller
        }
    }

    public int Receive(Span<byte> buffer, int timeoutMs, out uint source)
    {
        source = 0;
        try
        {
            if (!_socket.Poll(timeoutMs * 1000, SelectMode.SelectRead)) return 0;
            var n = _socket.ReceiveFrom(buffer, SocketFlags.None, ref _from);
            source = Ipv4.ToUInt32(((IPEndPoint)_from).Address);
            return n;
        }
        catch (SocketException)
        {
            return 0; // an ICMP port unreachable from an earlier send surfaces here; nothing to read
        }
    }

    public void Dispose() => _socket.Dispose();
}
