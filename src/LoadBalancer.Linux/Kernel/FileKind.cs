using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Kernel;

/// <summary>What a path names, following symbolic links, without opening it: opening a FIFO waits for a writer, for
/// ever if none comes, so a config reader must know before it opens. .NET does not tell a FIFO from an empty file.</summary>
public static unsafe class FileKind
{
    /// <summary>"regular file", "directory", "FIFO", "character device", "block device", "socket", or null when the
    /// path cannot be examined (missing, no permission): the caller's open reports that.</summary>
    public static string? Of(string path)
    {
        var buffer = stackalloc byte[LibC.StatxSize];
        if (LibC.statx(LibC.AT_FDCWD, path, 0, LibC.STATX_TYPE, buffer) != 0) return null;
        var mode = *(ushort*)(buffer + LibC.StatxModeOffset) & LibC.S_IFMT;
        return mode switch
        {
            LibC.S_IFREG => "regular file",
            LibC.S_IFDIR => "directory",
            LibC.S_IFIFO => "FIFO",
            LibC.S_IFCHR => "character device",
            LibC.S_IFBLK => "block device",
            LibC.S_IFSOCK => "socket",
            _ => "special file",
        };
    }
}
