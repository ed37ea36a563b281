using System.Numerics;
using System.Runtime.CompilerServices;

namespace LoadBalancer.Core.Flows;

/// <summary>The layout the flow table and the NAT session table share: a power of two of 8-way sets, and
/// where a hash's set starts. Fibonacci hashing spreads the bits Maglev already used (hash % size) over the
/// set index, so flows of one backend do not crowd the same sets.</summary>
internal readonly struct SetIndex
{
    public const int Ways = 8;
    private readonly int _shift;

    /// <summary>At least <paramref name="slots"/> slots, rounded up to whole sets, a power of two of them.</summary>
    public SetIndex(int slots)
    {
        Sets = (int)BitOperations.RoundUpToPowerOf2((uint)((Math.Max(slots, Ways) + Ways - 1) / Ways));
        _shift = 32 - BitOperations.Log2((uint)Sets);
    }

    public int Sets { get; }
    public int Slots => Sets * Ways;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Start(uint hash) => _shift >= 32 ? 0 : (int)((hash * 0x9E3779B1u) >> _shift) * Ways;
}
