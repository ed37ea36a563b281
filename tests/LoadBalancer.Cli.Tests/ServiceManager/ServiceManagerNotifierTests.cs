using System.Net.Sockets;
using System.Text;
using LoadBalancer.Cli.ServiceManager;
using LoadBalancer.Hosting;

namespace LoadBalancer.Cli.Tests.ServiceManager;

/// <summary>sd_notify's messages, received on a datagram socket the test binds, as the service manager would.</summary>
public sealed class ServiceManagerNotifierTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("lb-notify-");
    private readonly StringWriter _logText = new();
    private readonly EngineLog _log;

    public ServiceManagerNotifierTests() => _log = new EngineLog(_logText);

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A bound receiver; its receives give up after 5 s, so a missing message fails the test, never hangs it.</summary>
    private static Socket Receiver(string address)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 5000 };
        socket.Bind(ServiceManagerNotifier.EndPoint(address)!);
        return socket;
    }

    private static string Next(Socket receiver)
    {
        var buffer = new byte[4096];
        return Encoding.UTF8.GetString(buffer, 0, receiver.Receive(buffer));
    }

    private static long Clock() => 123_456_789;

    [Fact]
    public void Messages_AreTheKeysOfSdNotify_OneStatusLine()
    {
        Assert.Equal("READY=1\nSTATUS=serving 2 services", ServiceManagerNotifier.ReadyMessage("serving 2 services"));
        Assert.Equal("RELOADING=1\nMONOTONIC_USEC=42\nSTATUS=reloading /etc/lb/lb.yaml", ServiceManagerNotifier.ReloadingMessage(42, "reloading /etc/lb/lb.yaml"));
        Assert.Equal("STOPPING=1\nSTATUS=stopping", ServiceManagerNotifier.StoppingMessage("stopping"));
        Assert.Equal("WATCHDOG=1", ServiceManagerNotifier.WatchdogMessage);
        // A newline in the text must not start a key of its own.
        Assert.Equal("STATUS=stalled: a b", ServiceManagerNotifier.StatusMessage("stalled: a\nb"));
    }

    [Fact]
    public void EndPoint_At_IsAnAbstractNameWithoutTrailingNul()
    {
        var address = ServiceManagerNotifier.EndPoint("@lb/notify")!.Serialize();

        // sa_family (2 bytes), then the NUL that makes it abstract, then the name and nothing more.
        Assert.Equal(2 + 1 + "lb/notify".Length, address.Size);
        Assert.Equal(0, address[2]);
        Assert.Equal((byte)'l', address[3]);
        Assert.Equal((byte)'y', address[address.Size - 1]);
    }

    [Theory]
    [InlineData("relative/notify.sock")]
    [InlineData("vsock:2:1234")]
    [InlineData("@")]
    public void EndPoint_NeitherAbsoluteNorAbstract_IsNull(string address) => Assert.Null(ServiceManagerNotifier.EndPoint(address));

    [Fact]
    public void Send_PathSocket_OneDatagramEachInOrder_NothingButStatusOnceStopping()
    {
        var path = Path.Combine(_dir.FullName, "notify.sock");
        using var receiver = Receiver(path);
        using var notifier = new ServiceManagerNotifier(path, _log, Clock);

        notifier.Ready("serving 1 services");
        notifier.Reloading("reloading");
        notifier.Ready("serving 2 services");
        notifier.Watchdog();
        notifier.Stopping("stopping");
        // A reload ending, or a ping, while the engine stops: not said.
        notifier.Reloading("reloading");
        notifier.Ready("serving 2 services");
        notifier.Watchdog();
        notifier.Status("marker");

        Assert.True(notifier.Enabled);
        Assert.Equal("READY=1\nSTATUS=serving 1 services", Next(receiver));
        Assert.Equal("RELOADING=1\nMONOTONIC_USEC=123456789\nSTATUS=reloading", Next(receiver));
        Assert.Equal("READY=1\nSTATUS=serving 2 services", Next(receiver));
        Assert.Equal("WATCHDOG=1", Next(receiver));
        Assert.Equal("STOPPING=1\nSTATUS=stopping", Next(receiver));
        // The marker is the next datagram: nothing was sent in between.
        Assert.Equal("STATUS=marker", Next(receiver));
        Assert.Equal("", _logText.ToString());
    }

    [Fact]
    public void Send_AbstractSocket_Arrives()
    {
        var address = $"@lb-notify-test-{Guid.NewGuid():N}";
        using var receiver = Receiver(address);
        using var notifier = new ServiceManagerNotifier(address, _log, Clock);

        notifier.Ready("serving 1 services");

        Assert.Equal("READY=1\nSTATUS=serving 1 services", Next(receiver));
    }

    [Fact]
    public void Send_Unset_IsDisabledAndSaysNothing()
    {
        using var notifier = new ServiceManagerNotifier(null, _log, Clock);

        notifier.Ready("serving 1 services");
        notifier.Watchdog();
        notifier.Stopping("stopping");

        Assert.False(notifier.Enabled);
        Assert.Equal("", _logText.ToString());
    }

    [Fact]
    public void Send_NobodyListening_LoggedOnceNeverThrown()
    {
        using var notifier = new ServiceManagerNotifier(Path.Combine(_dir.FullName, "missing.sock"), _log, Clock);

        notifier.Ready("serving 1 services");
        notifier.Watchdog();
        notifier.Stopping("stopping");

        var line = Assert.Single(_logText.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("warning cannot notify the service manager at ", line);
    }

    [Fact]
    public void Create_RelativeAddress_DisabledWithOneWarning()
    {
        using var notifier = new ServiceManagerNotifier("notify.sock", _log, Clock);

        notifier.Ready("serving 1 services");

        Assert.False(notifier.Enabled);
        Assert.Contains("NOTIFY_SOCKET=notify.sock is neither an absolute path nor @abstract", Assert.Single(_logText.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }
}
