using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Kernel;

/// <summary>What this process may do: its effective uid and its effective capability set, asked of the kernel
/// (capget(2), geteuid(2)), not inferred from the uid: a root process in a service without a bounding set of its own
/// has them all, a non-root one given ambient CAP_NET_RAW and CAP_NET_ADMIN (systemd's <c>AmbientCapabilities=</c>,
/// <c>setpriv --ambient-caps</c>) has just those, and a root process under <c>CapabilityBoundingSet=</c> may have fewer.</summary>
public static unsafe class ProcessPrivileges
{
    public const int CapNetAdmin = LibC.CAP_NET_ADMIN;
    public const int CapNetRaw = LibC.CAP_NET_RAW;

    public static uint EffectiveUid => LibC.geteuid();

    /// <summary>The effective set as a 64-bit mask (bit n: capability n, as /proc/PID/status's CapEff prints it).</summary>
    public static ulong EffectiveCapabilities()
    {
        var header = new __user_cap_header_struct { version = LibC._LINUX_CAPABILITY_VERSION_3, pid = 0 };
        var data = stackalloc __user_cap_data_struct[LibC._LINUX_CAPABILITY_U32S_3];
        if (LibC.capget(&header, data) != 0) throw NativeException.Last("capget");
        return data[0].effective | ((ulong)data[1].effective << 32);
    }

    public static bool Has(ulong capabilities, int capability) => (capabilities & (1UL << capability)) != 0;
}
