using System.Text;
using LoadBalancer.Core.Flows;

namespace LoadBalancer.Core.Scheduling;

public readonly record struct MaglevBackend(string Name, int Weight);

/// <summary>Maglev consistent hashing (Eisenbud et al., NSDI 2016), built by the control plane and only
/// indexed by the data plane. Each backend walks its own permutation of the table (offset and skip
/// derived from its name, so every node builds the same table from the same config); weights are met
/// by letting a backend claim slots in proportion to its weight in each round.
/// Invariant: every entry holds a backend index in [0, backends) when at least one weight is positive,
/// otherwise the table is empty and <see cref="Lookup"/> returns -1.</summary>
public sealed class MaglevTable
{
    public const int DefaultSize = 65537;
    private const uint OffsetSeed = 0x4D41_4731; // "MAG1"
    private const uint SkipSeed = 0x4D41_4732;   // "MAG2"

    private readonly int[] _entries;

    private MaglevTable(int[] entries, int backendCount)
    {
        _entries = entries;
        BackendCount = backendCount;
    }

    public int Size => _entries.Length;
    public int BackendCount { get; }
    public bool IsEmpty => _entries.Length == 0;
    public ReadOnlySpan<int> Entries => _entries;

    public int Lookup(uint hash) => _entries.Length == 0 ? -1 : _entries[(int)(hash % (uint)_entries.Length)];

    public static bool IsPrime(int n)
    {
        if (n < 2) return false;
        if (n % 2 == 0) return n == 2;
        for (var d = 3; (long)d * d <= n; d += 2)
            if (n % d == 0) return false;
        return true;
    }

    public static MaglevTable Build(IReadOnlyList<MaglevBackend> backends, int size = DefaultSize)
    {
        if (!IsPrime(size)) throw new ArgumentException($"Maglev table size {size} is not prime", nameof(size));
        var n = backends.Count;
        var maxWeight = 0;
        for (var i = 0; i < n; i++)
        {
            if (backends[i].Weight < 0) throw new ArgumentException($"negative weight for {backends[i].Name}", nameof(backends));
            maxWeight = Math.Max(maxWeight, backends[i].Weight);
        }
        if (maxWeight == 0) return new MaglevTable([], n);
        if (n > size) throw new ArgumentException($"{n} backends do not fit a table of {size}", nameof(backends));

        var offset = new long[n];
        var skip = new long[n];
        for (var i = 0; i < n; i++)
        {
            var name = Encoding.UTF8.GetBytes(backends[i].Name);
            offset[i] = Lookup3.HashLittle(name, OffsetSeed) % (uint)size;
            skip[i] = Lookup3.HashLittle(name, SkipSeed) % (uint)(size - 1) + 1;
        }

        var entries = new int[size];
        Array.Fill(entries, -1);
        var next = new long[n];
        var credit = new long[n];
        var filled = 0;
        while (true)
        {
            for (var i = 0; i < n; i++)
            {
                // Each round adds weight to a backend's credit; a full maxWeight of credit buys one slot.
                // Over many rounds a backend claims slots in proportion to weight / maxWeight.
                credit[i] += backends[i].Weight;
                while (credit[i] >= maxWeight)
                {
                    credit[i] -= maxWeight;
                    long candidate;
                    do
                    {
                        candidate = (offset[i] + next[i] * skip[i]) % size;
                        next[i]++;
                    } while (entries[candidate] >= 0);
                    entries[candidate] = i;
                    if (++filled == size) return new MaglevTable(entries, n);
                }
            }
        }
    }
}
