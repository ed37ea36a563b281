using System.Net.Sockets;
using System.Text;
using LoadBalancer.Core.Model;
using LoadBalancer.Hosting;
using LoadBalancer.Linux.Interop;
using LoadBalancer.Linux.Kernel;
using LoadBalancer.Linux.Sockets;

namespace LoadBalancer.Cli.Control;

/// <summary>The engine's control socket: a Unix stream socket, one request line in, one response out
/// (requests in <see cref="ControlCommands"/>). The socket file is the engine user's, mode 0660, its group
/// <c>control_group:</c> when set (else the engine's own group): connecting needs write permission on it, so root,
/// the engine's user and that group's members can connect and read <c>status</c>. Requests that change the engine are
/// further gated per peer (<see cref="ControlAccess"/>, with the credentials the kernel recorded at connect).</summary>
internal sealed class ControlServer : IDisposable
{
    private readonly Socket _listener;
    private readonly string _path;
    private readonly ControlCommands _commands;
    private readonly EngineLog _log;
    private readonly Thread _thread;
    private volatile bool _stopping;

    private ControlServer(Socket listener, string path, ControlCommands commands, EngineLog log)
    {
        _listener = listener;
        _path = path;
        _commands = commands;
        _log = log;
        _thread = new Thread(AcceptLoop) { IsBackground = true, Name = "lb-control" };
    }

    /// <summary>Makes the socket's directory if it is missing, and throws when it cannot or when another engine
    /// answers on <paramref name="path"/>; removes a socket file left behind by an engine that died.</summary>
    public static void EnsureAvailable(string path)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (!File.Exists(path)) return;
            if (ControlClient.TryRequest(path, "status", out _))
                throw new ControlSocketInUseException(path);
            File.Delete(path);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw CannotCreate(path, e);
        }
    }

    private static InvalidOperationException CannotCreate(string path, Exception e) =>
        new($"cannot create the control socket {path}: {e.Message} (make {Path.GetDirectoryName(path)} writable by the engine's user, " +
            "as systemd's RuntimeDirectory=lb does, or set control_socket)", e);

    public static ControlServer Start(string path, UnixGroup? group, Engine engine, ConfigReload reload, ControlAccess access, EngineLog log)
    {
        EnsureAvailable(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var bound = false;
        try
        {
            try
            {
                listener.Bind(new UnixDomainSocketEndPoint(path));
                bound = true;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
            {
                throw CannotCreate(path, e);
            }
            // Group and mode before listen(2): until then a connect is refused, so nobody connects through
            // the mode bind(2) gave the file (the umask's).
            if (group is not null) GiveTo(path, group);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            listener.Listen(16);
        }
        catch
        {
            listener.Dispose();
            // Only a file this engine made: a failed bind may have met another engine's.
            if (bound) File.Delete(path);
            throw;
        }
        var server = new ControlServer(listener, path, new ControlCommands(engine, reload, access, log), log);
        server._thread.Start();
        return server;
    }

    private static void GiveTo(string path, UnixGroup group)
    {
        try
        {
            FileGroup.Set(path, group.Gid);
        }
        catch (NativeException e) when (e.Errno == FileGroup.EPERM)
        {
            var user = Environment.UserName;
            throw new InvalidOperationException($"control_group {group.Name}: the engine's user ({user}) cannot give the control socket to group " +
                                                $"{group.Name} (gid {group.Gid}) because it is not a member (usermod -aG {group.Name} {user}, then start again)", e);
        }
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
                    var peer = Peer(client);
                    var request = ReadLine(client);
                    var response = _commands.Handle(request.Trim(), peer);
                    client.Send(Encoding.UTF8.GetBytes(response + "\n"));
                }
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                _log.Error($"control request failed: {e.Message}");
            }
        }
    }

    /// <summary>The credentials the kernel took at connect; null (every request that changes the engine refused)
    /// if it would not say.</summary>
    private ControlPeer? Peer(Socket client)
    {
        try
        {
            var c = PeerCredentials.Of(client.SafeHandle);
            return new ControlPeer(c.Pid, c.Uid, c.Gid, c.Groups);
        }
        catch (NativeException e)
        {
            _log.Error($"control: cannot read the caller's credentials: {e.Message}");
            return null;
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
