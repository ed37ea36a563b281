using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Kernel;

/// <summary>The device and inode numbers of an open descriptor, as <c>fstat</c> gives them in <c>st_dev</c> and
/// <c>st_ino</c> (and <c>stat -L -c %d:%i /proc/self/fd/N</c> prints them): what systemd writes into
/// <c>JOURNAL_STREAM</c> for the stream it connected to a service's stdout/stderr. .NET does not tell them.</summary>
public static unsafe class FileIdentity
{
    /// <summary>(st_dev, st_ino) of <paramref name="descriptor"/>, or null when it is not open.</summary>
    public static (ulong Device, ulong Inode)? Of(int descriptor)
    {
        var buffer = stackalloc byte[LibC.StatxSize];
        if (LibC.statx(descriptor, "", LibC.AT_EMPTY_PATH, LibC.STATX_INO, buffer) != 0) return null;
        var inode = *(ulong*)(buffer + LibC.StatxInoOffset);
        var major = *(uint*)(buffer + LibC.StatxDevMajorOffset);
        var minor = *(uint*)(buffer + LibC.StatxDevMinorOffset);
        return (MakeDev(major, minor), inode);
    }

    /// <summary>glibc's <c>makedev</c> (sys/sysmacros.h): statx splits the device number, stat's <c>st_dev</c> is
    /// this encoding of it.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0x00000fff) << 8)
        | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0x000000ff);
}
