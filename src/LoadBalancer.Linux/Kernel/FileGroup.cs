using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Kernel;

/// <summary>Gives a file to a group (chown(2) with the owner left as it is). .NET has no chown. A process without
/// CAP_CHOWN may give a file it owns only to a group it is a member of: anything else is EPERM.</summary>
public static class FileGroup
{
    public static void Set(string path, uint gid)
    {
        if (LibC.chown(path, LibC.NoId, gid) != 0) throw NativeException.Last($"chown({path}, group {gid})");
    }

    public const int EPERM = LibC.EPERM;
}
