using System.Globalization;
using System.Net.Sockets;
using LoadBalancer.Linux.Kernel;
using LoadBalancer.Linux.Sockets;

namespace LoadBalancer.Linux.Tests.Sockets;

/// <summary>SO_PEERCRED and SO_PEERGROUPS through our declarations: the accepted end of a Unix socket this process
/// connected to names this process, its ids and its supplementary groups as /proc/self/status lists them.</summary>
public sealed class PeerCredentialsTests
{
    [Fact]
    public void Of_AcceptedUnixSocket_NamesTheConnectingProcess()
    {
        var dir = Directory.CreateTempSubdirectory("lb-peer-");
        try
        {
            var path = Path.Combine(dir.FullName, "s");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            client.Connect(new UnixDomainSocketEndPoint(path));
            using var accepted = listener.Accept();

            var peer = PeerCredentials.Of(accepted.SafeHandle);

            var status = File.ReadAllLines("/proc/self/status");
            string Field(string key) => status.Single(l => l.StartsWith(key + ":", StringComparison.Ordinal))[(key.Length + 1)..].Trim();
            Assert.Equal(Environment.ProcessId, peer.Pid);
            Assert.Equal(ProcessPrivileges.EffectiveUid, peer.Uid);
            Assert.Equal(uint.Parse(Field("Gid").Split('\t')[1], CultureInfo.InvariantCulture), peer.Gid);
            var groups = Field("Groups").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(g => uint.Parse(g, CultureInfo.InvariantCulture));
            Assert.Equal(groups.Order(), peer.Groups.Order());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Another process, with other ids and more supplementary groups than the first guess holds (so the
    /// ERANGE path is taken): python3 started through setpriv connects and waits for a byte.</summary>
    [Fact]
    public void Of_PeerWithManyGroups_GivesItsIdsAndEveryGroup()
    {
        if (!Environment.IsPrivilegedProcess || !File.Exists("/usr/bin/python3")) return; // setpriv needs root to change ids
        var dir = Directory.CreateTempSubdirectory("lb-peer-");
        try
        {
            File.SetUnixFileMode(dir.FullName, (UnixFileMode)0x1FF);
            var path = Path.Combine(dir.FullName, "s");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, (UnixFileMode)0x1FF);
            listener.Listen(1);
            var groups = Enumerable.Range(5000, 100).Select(g => (uint)g).ToArray();
            var info = new System.Diagnostics.ProcessStartInfo("setpriv") { UseShellExecute = false, RedirectStandardError = true };
            foreach (var a in new[] { "--reuid=65534", "--regid=4999", "--groups=" + string.Join(',', groups), "--",
                         "/usr/bin/python3", "-c", $"import socket; s = socket.socket(socket.AF_UNIX); s.connect('{path}'); s.recv(1)" })
                info.ArgumentList.Add(a);
            using var child = System.Diagnostics.Process.Start(info)!;
            try
            {
                listener.ReceiveTimeout = 10_000;
                Assert.True(listener.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead), "the child did not connect: " + (child.HasExited ? child.StandardError.ReadToEnd() : ""));
                using var accepted = listener.Accept();

                var peer = PeerCredentials.Of(accepted.SafeHandle);

                Assert.Equal(child.Id, peer.Pid);
                Assert.Equal(65534u, peer.Uid);
                Assert.Equal(4999u, peer.Gid);
                Assert.Equal(groups, peer.Groups.Order());
                accepted.Send([1]);
            }
            finally
            {
                if (!child.WaitForExit(10_000)) child.Kill();
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
