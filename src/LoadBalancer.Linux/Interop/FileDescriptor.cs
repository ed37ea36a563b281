using System.Runtime.InteropServices;

namespace LoadBalancer.Linux.Interop;

/// <summary>Owns a file descriptor; closes it exactly once. The packet path reads <see cref="Fd"/>
/// once at construction of its port rather than AddRef-ing per call: the port's lifetime bounds it.</summary>
internal sealed class FileDescriptor : SafeHandle
{
    public FileDescriptor(int fd) : base(new IntPtr(-1), ownsHandle: true) => SetHandle(new IntPtr(fd));

    public override bool IsInvalid => handle == new IntPtr(-1);

    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;
}
