namespace LoadBalancer.Linux.Interop;

/// <summary>Opens /dev/net/tun and attaches it to a new, non-persistent TUN or TAP device: the device lives while the
/// descriptor does, and the kernel removes it (with its routes) when the last one closes.</summary>
internal static unsafe class TunSetIff
{
    public const string DevicePath = "/dev/net/tun";

    /// <summary>Null when this process may open <see cref="DevicePath"/> for reading and writing (the descriptor closed again
    /// at once: no device is made without TUNSETIFF), else why not. CAP_NET_ADMIN makes the device; opening the node
    /// is its file mode's business (udev makes it 0666; without udev it may be root's alone).</summary>
    public static string? CannotOpen()
    {
        var fd = LibC.open(DevicePath, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0) return NativeException.Last($"open({DevicePath})").Message;
        LibC.close(fd);
        return null;
    }

    /// <exception cref="NativeException">The open or the TUNSETIFF ioctl failed (the name is taken, no /dev/net/tun).</exception>
    public static FileDescriptor Open(string name, short flags)
    {
        if (name.Length is 0 or > 15) throw new ArgumentException($"'{name}' is not a valid interface name", nameof(name));
        var fd = LibC.open(DevicePath, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0) throw NativeException.Last($"open({DevicePath})");
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
