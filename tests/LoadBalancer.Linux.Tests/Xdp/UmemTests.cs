using LoadBalancer.Linux.Xdp;

namespace LoadBalancer.Linux.Tests.Xdp;

/// <summary>The UMEM's bookkeeping, without a socket: the free list, frames named by any address inside them, and
/// the mark that keeps a frame in a TX ring from being given back twice.</summary>
public sealed unsafe class UmemTests
{
    [Fact]
    public void TakeAndGive_AnyAddressInsideAFrame_ReturnsThatFrame()
    {
        using var umem = Umem.Create(frameCount: 4, frameSize: 2048);

        Assert.True(umem.TryTake(out var first));
        Assert.Equal(0ul, first % 2048);
        umem.Give(first + 256 + 60); // a completion gives back the descriptor's address, past the headroom
        Assert.True(umem.TryTake(out var again));

        Assert.Equal(first, again);
    }

    [Fact]
    public void TryTake_AllFramesOut_False_AndAGiveTooManyIsIgnored()
    {
        using var umem = Umem.Create(frameCount: 2, frameSize: 4096);
        Assert.True(umem.TryTake(out var a));
        Assert.True(umem.TryTake(out var b));

        Assert.False(umem.TryTake(out _));
        umem.Give(a);
        umem.Give(b);
        umem.Give(b);
        Assert.Equal(2, umem.FreeFrames);
    }

    [Fact]
    public void TryLocate_InsideOneFrameOnly()
    {
        using var umem = Umem.Create(frameCount: 4, frameSize: 2048);
        var inSecond = umem.Base + 2048 + 256;

        Assert.True(umem.TryLocate(inSecond, 100, out var address));
        Assert.Equal(2048ul + 256, address);
        Assert.False(umem.TryLocate(inSecond, 2048 - 256 + 1, out _)); // would run into the third frame
        Assert.False(umem.TryLocate(umem.Base - 1, 1, out _));
        Assert.False(umem.TryLocate(umem.Base + 4 * 2048, 1, out _));
        var managed = new byte[64];
        fixed (byte* p = managed) Assert.False(umem.TryLocate(p, managed.Length, out _));
    }

    [Fact]
    public void TryMarkSent_Twice_RefusedUntilTaken()
    {
        using var umem = Umem.Create(frameCount: 4, frameSize: 2048);

        Assert.True(umem.TryMarkSent(2048 + 256));
        Assert.False(umem.TryMarkSent(2048 + 300)); // the same frame: a second send must copy
        Assert.True(umem.TakeSent(2048 + 256));
        Assert.False(umem.TakeSent(2048 + 256));
        Assert.True(umem.TryMarkSent(2048));
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(3000)]
    [InlineData(8192)]
    public void Create_FrameSizeNotTheKernelsAligned_Refused(int frameSize) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Umem.Create(4, frameSize));
}
