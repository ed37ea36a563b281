using System.Net.Sockets;
using System.Text;
using LoadBalancer.Hosting;

namespace LoadBalancer.Cli.Control;

/// <summary>The engine's control socket: a Unix stream socket, one request line in, one response out
/// (requests in <see cref="ControlCommands"/>). Only root can connect (mode 0600): requests change the table.</summary>
internal sealed class ControlServer : IDisposable
{
    private readonly Socket _listener;
    private readonly string _path;
    private readonly ControlCommands _commands;
    private readonly EngineLog _log;
    private readonly Thread _thread;
    private volatile bool _stopping;

    private ControlServer(Socket listener, string path, Engine engine, ConfigReload reload, EngineLog log)
    {
        _listener = listener;
        _path = path;
        _commands = new ControlCommands(engine, reload);
        _log = log;
        _thread = new Thread(AcceptLoop) { IsBackground = true, Name = "lb-control" };
    }

    /// <summary>Throws when another engine answers on <paramref name="path"/>; removes a socket file left
    /// behind by an engine that died.</summary>
    public static void EnsureAvailable(string path)
    {
        if (!File.Exists(path)) return;
        if (ControlClient.TryRequest(path, "status", out _))
            throw new ControlSocketInUseException(path);
        File.Delete(path);
    }

    public static ControlServer Start(string path, Engine engine, ConfigReload reload, EngineLog log)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        EnsureAvailable(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        listener.Listen(16);
        var server = new ControlServer(listener, path, engine, reload, log);
        server._thread.Start();
        return server;
    }

    private void AcceptLoop()
    {
        while (!_stopping)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (SocketException) when (_stopping)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            try
            {
                using (client)
                {
                    client.ReceiveTimeout = 2000;
                    var request = ReadLine(client);
                    var response = _commands.Handle(request.Trim());
                    client.Send(Encoding.UTF8.GetBytes(response + "\n"));
                }
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                _log.Error($"control request failed: {e.Message}");
            }
        }
    }

    private static string ReadLine(Socket socket)
    {
        var buffer = new byte[4096];
        var total = 0;
        while (total < buffer.Length)
        {
            var n = socket.Receive(buffer, total, buffer.Length - total, SocketFlags.None);
            if (n == 0) break;
            total += n;
            if (Array.IndexOf(buffer, (byte)'\n', 0, total) >= 0) break;
        }
        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    public void Dispose()
    {
        _stopping = true;
        _listener.Dispose();
        _thread.Join(TimeSpan.FromSeconds(2));
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
    }
}

internal static class ControlClient
{
    public static bool TryRequest(string path, string request, out string response)
    {
        response = "";
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.ReceiveTimeout = 5000;
            socket.SendTimeout = 5000;
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Send(Encoding.UTF8.GetBytes(request + "\n"));
            socket.Shutdown(SocketShutdown.Send);
            using var ms = new MemoryStream();
            var buffer = new byte[65536];
            int n;
            while ((n = socket.Receive(buffer)) > 0) ms.Write(buffer, 0, n);
            response = Encoding.UTF8.GetString(ms.ToArray()).TrimEnd('\n');
            return true;
        }
        catch (SocketException e)
        {
            response = e.Message;
            return false;
        }
    }
}

/// <summary>An engine already answers on the control socket: <c>lb run</c> refuses (exit 2), the first one untouched.</summary>
internal sealed class ControlSocketInUseException(string path) : InvalidOperationException($"another engine is already running on {path}");
