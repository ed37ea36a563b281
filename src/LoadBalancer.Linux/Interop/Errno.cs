using System.Runtime.InteropServices;

namespace LoadBalancer.Linux.Interop;

/// <summary>Errors from native calls, with the call named, so an operator sees "setsockopt(PACKET_RX_RING): Cannot allocate memory".</summary>
public sealed class NativeException(string call, int errno)
    : Exception($"{call}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public int Errno { get; } = errno;

    /// <summary>The errors callers outside the interop tell apart (the values of asm-generic/errno*.h).</summary>
    public const int Busy = 16, InvalidArgument = 22, NotSupported = 95;

    internal static NativeException Last(string call) => new(call, Marshal.GetLastPInvokeError());
}
