using System.Globalization;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Forwarding.ClusterIp;

/// <summary>CLUSTERIP ownership: which node accepts which flows. A Maglev table over the live nodes, built
/// from the nodes sorted by id and named by id, so every node computes the identical table from the same
/// config and the same view of who is alive (compare <see cref="Digest"/> across nodes). Changing the live
/// set moves only the changed node's share plus Maglev's small disturbance, where the original target's
/// hash mod N moved about (N-1)/N of all flows.</summary>
public sealed class ClusterTable
{
    private readonly MaglevTable _table;
    private readonly int[] _nodeIds;

    private ClusterTable(MaglevTable table, int[] nodeIds)
    {
        _table = table;
        _nodeIds = nodeIds;
        Digest = ComputeDigest();
    }

    /// <summary>A short fingerprint of the whole table: equal on every node that agrees on config and liveness.</summary>
    public string Digest { get; }

    public static ClusterTable Build(IEnumerable<ClusterNodeConfig> nodes, Func<int, bool> isAlive, int size = MaglevTable.DefaultSize)
    {
        var live = nodes.Where(n => isAlive(n.Id)).OrderBy(n => n.Id).ToArray();
        var table = MaglevTable.Build(live.Select(n => new MaglevBackend(n.BackendName, n.Weight)).ToArray(), size);
        return new ClusterTable(table, live.Select(n => n.Id).ToArray());
    }

    /// <summary>Whether the node is in this table (alive). Allocation-free, for the packet path.</summary>
    public bool IsAlive(int nodeId) => Array.IndexOf(_nodeIds, nodeId) >= 0;

    /// <summary>The node that owns a flow hash, or -1 when no node is alive.</summary>
    public int OwnerOf(uint hash)
    {
        var slot = _table.Lookup(hash);
        return slot < 0 ? -1 : _nodeIds[slot];
    }

    /// <summary>Number of buckets (the Maglev table size).</summary>
    public int Size => _table.Size;

    /// <summary>The node that owns bucket <paramref name="bucket"/> (hash modulo <see cref="Size"/>), or -1.</summary>
    public int OwnerAt(int bucket)
    {
        var slot = _table.Entries[bucket];
        return slot < 0 ? -1 : _nodeIds[slot];
    }

    /// <summary>The fraction of table entries (and so of flows) a node owns.</summary>
    public double Share(int nodeId)
    {
        var index = Array.IndexOf(_nodeIds, nodeId);
        if (index < 0 || _table.IsEmpty) return 0;
        var owned = 0;
        foreach (var e in _table.Entries)
            if (e == index) owned++;
        return (double)owned / _table.Size;
    }

    private string ComputeDigest()
    {
        var bytes = new byte[_table.Size * 4];
        var entries = _table.Entries;
        for (var i = 0; i < entries.Length; i++)
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), entries[i] < 0 ? -1 : _nodeIds[entries[i]]);
        return Lookup3.HashLittle(bytes, 0).ToString("x8", CultureInfo.InvariantCulture) + "-" + _table.Size.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>The CLUSTERIP flow hash: lookup3 over the fields the <c>hash:</c> mode names, seeded with
/// <c>hash_seed</c>, identical on every node.</summary>
public static class ClusterFlowHash
{
    public static uint Compute(ClusterHash mode, uint sourceAddress, ushort sourcePort, ushort destinationPort, uint seed) => mode switch
    {
        ClusterHash.SourceIp => Lookup3.HashWords(sourceAddress, seed),
        ClusterHash.SourceIpSourcePort => Lookup3.HashWords(sourceAddress, sourcePort, seed),
        _ => Lookup3.HashWords(sourceAddress, ((uint)sourcePort << 16) | destinationPort, seed),
    };

    /// <summary>The same fields for an IPv6 client: its address as four words, most significant first (wire order, as
    /// in <see cref="FlowHash.Compute6(byte, UInt128, UInt128, ushort, ushort, uint)"/>), then the ports' word as for IPv4.</summary>
    public static uint Compute6(ClusterHash mode, UInt128 sourceAddress, ushort sourcePort, ushort destinationPort, uint seed)
    {
        uint w0 = (uint)(sourceAddress >> 96), w1 = (uint)(sourceAddress >> 64), w2 = (uint)(sourceAddress >> 32), w3 = (uint)sourceAddress;
        return mode switch
        {
            ClusterHash.SourceIp => Lookup3.HashWords(w0, w1, w2, w3, seed),
            ClusterHash.SourceIpSourcePort => Lookup3.HashWords(w0, w1, w2, w3, sourcePort, seed),
            _ => Lookup3.HashWords(w0, w1, w2, w3, ((uint)sourcePort << 16) | destinationPort, seed),
        };
    }
}
