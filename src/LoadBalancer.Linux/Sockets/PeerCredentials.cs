using System.Runtime.InteropServices;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Sockets;

/// <summary>Who is at the other end of a connected Unix socket, as the kernel recorded it when the peer called
/// connect(2): SO_PEERCRED (pid, uid, gid) and SO_PEERGROUPS (its supplementary groups, Linux 4.13+). Both are the
/// peer's credentials at connect time, taken from the socket, not looked up afterwards: a peer that exits or changes
/// its groups between connect and the check cannot make a request pass as another process's, and no pid is reused.</summary>
public sealed record PeerCredentials(int Pid, uint Uid, uint Gid, IReadOnlyList<uint> Groups)
{
    /// <summary>NGROUPS_MAX is 65536; a first guess that fits every ordinary user, then the size the kernel asks for.</summary>
    private const int FirstGuess = 64;

    public static unsafe PeerCredentials Of(SafeHandle socket)
    {
        var added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            var fd = (int)socket.DangerousGetHandle();
            ucred cred;
            var length = (uint)sizeof(ucred);
            if (LibC.getsockopt(fd, LibC.SOL_SOCKET, LibC.SO_PEERCRED, &cred, &length) != 0) throw NativeException.Last("getsockopt(SO_PEERCRED)");
            return new PeerCredentials(cred.pid, cred.uid, cred.gid, ReadGroups(fd));
        }
        finally
        {
            if (added) socket.DangerousRelease();
        }
    }

    private static unsafe uint[] ReadGroups(int fd)
    {
        var groups = new uint[FirstGuess];
        while (true)
        {
            var length = (uint)(groups.Length * sizeof(uint));
            fixed (uint* g = groups)
            {
                if (LibC.getsockopt(fd, LibC.SOL_SOCKET, LibC.SO_PEERGROUPS, g, &length) == 0) return groups[..(int)(length / sizeof(uint))];
            }
            var errno = Marshal.GetLastPInvokeError();
            // ERANGE: the kernel wrote the size it needs into length.
            if (errno != LibC.ERANGE || length <= groups.Length * sizeof(uint)) throw new NativeException("getsockopt(SO_PEERGROUPS)", errno);
            groups = new uint[length / sizeof(uint)];
        }
    }
}
