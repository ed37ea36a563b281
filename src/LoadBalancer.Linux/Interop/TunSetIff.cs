namespace LoadBalancer.Linux.Interop;

/// <summary>Opens /dev/net/tun and attaches it to a new, non-persistent TUN or TAP device: the device lives while the
/// descriptor does, and the kernel removes it (with its routes) when the last one closes.</summary>
internal static unsafe class TunSetIff
{
    /// <exception cref="NativeException">The open or the TUNSETIFF ioctl failed (the name is taken, no /dev/net/tun).</exception>
    public static FileDescriptor Open(string name, short flags)
    {
        if (name.Length is 0 or > 15) throw new ArgumentException($"'{name}' is not a valid interface name", nameof(name));
        var fd = LibC.open("/dev/net/tun", LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0) throw NativeException.Last("open(/dev/net/tun)");
        var handle = new FileDescriptor(fd);
        // struct ifreq: char ifr_name[16], then short ifr_flags.
        var ifreq = stackalloc byte[40];
        new Span<byte>(ifreq, 40).Clear();
        System.Text.Encoding.ASCII.GetBytes(name).CopyTo(new Span<byte>(ifreq, 16));
        *(short*)(ifreq + 16) = flags;
        if (LibC.ioctl(fd, LibC.TUNSETIFF, ifreq) != 0)
        {
            var error = NativeException.Last($"ioctl(TUNSETIFF {name})");
            handle.Dispose();
            throw error;
        }
        return handle;
    }
}
