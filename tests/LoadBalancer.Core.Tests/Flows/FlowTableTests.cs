using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Tests.Flows;

public class FlowTableTests
{
    private static readonly FlowTimeouts Timeouts = new(TcpSynMs: 100, TcpEstablishedMs: 1000, TcpClosingMs: 50, UdpMs: 500);
    private const long T0 = 10_000;

    private static FlowKey Key(int i, byte protocol = IpProtocols.Tcp) => new(protocol, 0xC0000200u + (uint)i, 0x0A000064, (ushort)(1000 + i), 80);

    [Fact]
    public void Constructor_Capacity_RoundsUpToPowerOfTwoBucketsOfEightWays()
    {
        Assert.Equal(8, new FlowTable<FlowKey>(1, Timeouts).Capacity);
        Assert.Equal(64, new FlowTable<FlowKey>(64, Timeouts).Capacity);
        Assert.Equal(128, new FlowTable<FlowKey>(65, Timeouts).Capacity);
        Assert.Equal(1 << 20, new FlowTable<FlowKey>(1 << 20, Timeouts).Capacity);
    }

    [Fact]
    public void Find_AfterInsert_ReturnsEntryWithBackend()
    {
        var table = new FlowTable<FlowKey>(1024, Timeouts);
        var key = Key(1);
        var hash = FlowHash.Compute(key, 1);

        table.Insert(key, hash, backendId: 7, FlowState.TcpEstablished, T0);
        ref var found = ref table.Find(key, hash, T0 + 1);

        Assert.False(Unsafe.IsNullRef(ref found));
        Assert.Equal(7, found.BackendId);
        Assert.Equal(key, found.Key);
        Assert.Equal(FlowState.TcpEstablished, found.State);
        Assert.Equal(1, table.Inserts);
        Assert.Equal(0, table.Evictions);
    }

    [Fact]
    public void Find_UnknownKeyOrOtherHash_ReturnsNullRef()
    {
        var table = new FlowTable<FlowKey>(1024, Timeouts);
        var key = Key(1);
        table.Insert(key, 42, 1, FlowState.Udp, T0);

        Assert.True(Unsafe.IsNullRef(ref table.Find(Key(2), 42, T0)));
        Assert.True(Unsafe.IsNullRef(ref table.Find(key, 43, T0)));
        Assert.False(Unsafe.IsNullRef(ref table.Find(key, 42, T0)));
    }

    [Fact]
    public void Find_ReturnedRef_UpdatesEntryInPlace()
    {
        var table = new FlowTable<FlowKey>(64, Timeouts);
        table.Insert(Key(1), 5, 1, FlowState.TcpEstablished, T0);

        ref var e = ref table.Find(Key(1), 5, T0);
        e.BackendId = 9;
        e.LastSeenMs = T0 + 900;

        Assert.Equal(9, table.Find(Key(1), 5, T0 + 1800).BackendId);
    }

    /// <summary>A full bucket gives up its embryonic entries first (the oldest of them), so a flood of one-packet
    /// flows cannot push out a confirmed one however long it has been idle.</summary>
    [Fact]
    public void Insert_FullBucket_EvictsOldestEmbryonicBeforeAnyConfirmed()
    {
        var table = new FlowTable<FlowKey>(8, Timeouts);
        // One bucket: every key hashes to it. Seven confirmed entries, idle the longest, and one embryonic.
        for (var i = 0; i < 7; i++) table.Insert(Key(i), 7, i, FlowState.TcpEstablished, T0 + i);
        table.Insert(Key(7), 7, 7, FlowState.TcpSyn, T0 + 50);

        for (var i = 0; i < 20; i++) table.Insert(Key(100 + i), 7, 100 + i, FlowState.TcpSyn, T0 + 60 + i);

        Assert.Equal(20, table.Evictions);
        for (var i = 0; i < 7; i++) Assert.False(Unsafe.IsNullRef(ref table.Find(Key(i), 7, T0 + 90)), $"confirmed flow {i} evicted");
        Assert.False(Unsafe.IsNullRef(ref table.Find(Key(119), 7, T0 + 90)));
        Assert.True(Unsafe.IsNullRef(ref table.Find(Key(118), 7, T0 + 90)));
    }

    [Fact]
    public void Insert_FullBucketWithoutEmbryonic_EvictsLeastRecentlySeen()
    {
        var table = new FlowTable<FlowKey>(8, Timeouts);
        for (var i = 0; i < 8; i++) table.Insert(Key(i), 7, i, FlowState.TcpEstablished, T0 + 10 - i);

        table.Insert(Key(50), 7, 50, FlowState.TcpEstablished, T0 + 20);

        Assert.Equal(1, table.Evictions);
        Assert.True(Unsafe.IsNullRef(ref table.Find(Key(7), 7, T0 + 20)));
    }

    [Theory]
    [InlineData(FlowState.TcpSyn, 100)]
    [InlineData(FlowState.TcpEstablished, 1000)]
    [InlineData(FlowState.TcpClosing, 50)]
    [InlineData(FlowState.Udp, 500)]
    public void Find_IdleLongerThanStateTimeout_Expires(FlowState state, long timeoutMs)
    {
        var table = new FlowTable<FlowKey>(64, Timeouts);
        var key = Key(3);
        table.Insert(key, 99, 1, state, T0);

        Assert.False(Unsafe.IsNullRef(ref table.Find(key, 99, T0 + timeoutMs)));
        Assert.True(Unsafe.IsNullRef(ref table.Find(key, 99, T0 + timeoutMs + 1)));
        // Once found expired it is freed, even if asked again "in the past".
        Assert.True(Unsafe.IsNullRef(ref table.Find(key, 99, T0)));
    }

    [Fact]
    public void CountLive_MixedStates_CountsOnlyUnexpired()
    {
        var table = new FlowTable<FlowKey>(1024, Timeouts);
        table.Insert(Key(1), 1, 0, FlowState.TcpSyn, T0);
        table.Insert(Key(2), 2, 0, FlowState.TcpEstablished, T0);
        table.Insert(Key(3), 3, 0, FlowState.TcpClosing, T0);
        table.Insert(Key(4, IpProtocols.Udp), 4, 0, FlowState.Udp, T0);

        Assert.Equal(4, table.CountLive(T0));
        Assert.Equal(3, table.CountLive(T0 + 60));   // closing gone
        Assert.Equal(2, table.CountLive(T0 + 200));  // syn gone
        Assert.Equal(1, table.CountLive(T0 + 600));  // udp gone
        Assert.Equal(0, table.CountLive(T0 + 2000));
    }

    [Fact]
    public void Insert_FullBucket_EvictsLeastRecentlySeen()
    {
        var table = new FlowTable<FlowKey>(64, Timeouts);
        const uint hash = 0x12345678; // the same hash for all keys puts them in one bucket
        for (var i = 0; i < FlowTable.Ways; i++)
            table.Insert(Key(i), hash, i, FlowState.TcpEstablished, T0 + i);
        // Touch the oldest (key 0) so key 1 becomes the least recently seen.
        table.Find(Key(0), hash, T0 + 20).LastSeenMs = T0 + 20;

        table.Insert(Key(100), hash, 100, FlowState.TcpEstablished, T0 + 21);

        Assert.Equal(1, table.Evictions);
        Assert.Equal(FlowTable.Ways + 1, table.Inserts);
        Assert.True(Unsafe.IsNullRef(ref table.Find(Key(1), hash, T0 + 22)));
        Assert.False(Unsafe.IsNullRef(ref table.Find(Key(0), hash, T0 + 22)));
        Assert.False(Unsafe.IsNullRef(ref table.Find(Key(100), hash, T0 + 22)));
        for (var i = 2; i < FlowTable.Ways; i++)
            Assert.Equal(i, table.Find(Key(i), hash, T0 + 22).BackendId);
    }

    [Fact]
    public void Insert_FullBucketWithExpiredEntry_ReusesItWithoutEviction()
    {
        var table = new FlowTable<FlowKey>(64, Timeouts);
        const uint hash = 0xCAFEF00D;
        for (var i = 0; i < FlowTable.Ways; i++)
            table.Insert(Key(i), hash, i, i == 5 ? FlowState.TcpClosing : FlowState.TcpEstablished, T0);

        table.Insert(Key(100), hash, 100, FlowState.TcpSyn, T0 + 60); // key 5 (closing, 50 ms) has expired

        Assert.Equal(0, table.Evictions);
        Assert.True(Unsafe.IsNullRef(ref table.Find(Key(5), hash, T0 + 61)));
        for (var i = 0; i < FlowTable.Ways; i++)
            if (i != 5) Assert.Equal(i, table.Find(Key(i), hash, T0 + 61).BackendId);
        Assert.Equal(100, table.Find(Key(100), hash, T0 + 61).BackendId);
    }

    [Fact]
    public void Insert_OtherBuckets_AreNotDisturbedByFullBucket()
    {
        var table = new FlowTable<FlowKey>(1024, Timeouts);
        const uint hot = 7;
        // hash+1 moves the Fibonacci-hashed bucket index by 0x9E3779B1 >> 25 (about 79 of 128 buckets).
        var other = Key(1000);
        const uint otherHash = hot + 1;
        table.Insert(other, otherHash, 5, FlowState.Udp, T0 - 1);

        for (var i = 0; i < 3 * FlowTable.Ways; i++)
            table.Insert(Key(i), hot, i, FlowState.Udp, T0 + i);

        Assert.Equal(2 * FlowTable.Ways, table.Evictions);
        Assert.Equal(5, table.Find(other, otherHash, T0 + 100).BackendId);
    }

    [Fact]
    public void Insert_ManyDistinctFlows_AllFoundWhenTableIsLarge()
    {
        var table = new FlowTable<FlowKey>(1 << 14, Timeouts);
        for (var i = 0; i < 2000; i++)
            table.Insert(Key(i), FlowHash.Compute(Key(i), 9), i, FlowState.TcpEstablished, T0);

        var found = 0;
        for (var i = 0; i < 2000; i++)
        {
            ref var e = ref table.Find(Key(i), FlowHash.Compute(Key(i), 9), T0);
            if (!Unsafe.IsNullRef(ref e) && e.BackendId == i) found++;
        }
        // 2000 flows over 2048 buckets of 8: no bucket should overflow.
        Assert.Equal(2000, found);
        Assert.Equal(0, table.Evictions);
    }

    [Theory]
    [InlineData(FlowState.Free, TcpFlags.Syn, FlowState.TcpSyn)]
    // Met mid-stream: embryonic until seen again (one forged ACK is not a connection).
    [InlineData(FlowState.Free, TcpFlags.Ack, FlowState.TcpSyn)]
    [InlineData(FlowState.Free, TcpFlags.Psh | TcpFlags.Ack, FlowState.TcpSyn)]
    [InlineData(FlowState.Free, TcpFlags.Fin | TcpFlags.Ack, FlowState.TcpClosing)]
    [InlineData(FlowState.Free, TcpFlags.Rst, FlowState.TcpClosing)]
    [InlineData(FlowState.TcpSyn, TcpFlags.Syn, FlowState.TcpSyn)]
    [InlineData(FlowState.TcpSyn, TcpFlags.Ack, FlowState.TcpEstablished)]
    [InlineData(FlowState.TcpSyn, TcpFlags.Rst, FlowState.TcpClosing)]
    [InlineData(FlowState.TcpEstablished, TcpFlags.Ack, FlowState.TcpEstablished)]
    [InlineData(FlowState.TcpEstablished, TcpFlags.Syn, FlowState.TcpEstablished)]
    [InlineData(FlowState.TcpEstablished, TcpFlags.Fin | TcpFlags.Ack, FlowState.TcpClosing)]
    [InlineData(FlowState.TcpEstablished, TcpFlags.Rst | TcpFlags.Ack, FlowState.TcpClosing)]
    [InlineData(FlowState.TcpClosing, TcpFlags.Ack, FlowState.TcpClosing)]
    [InlineData(FlowState.TcpClosing, TcpFlags.Syn, FlowState.TcpSyn)]
    public void NextTcpState_Flags_Transitions(FlowState current, TcpFlags flags, FlowState expected)
    {
        Assert.Equal(expected, FlowTable.NextTcpState(current, flags));
    }

    [Fact]
    public void FlowTimeoutsFor_EachState_ReturnsItsTimeout()
    {
        Assert.Equal(100, Timeouts.For(FlowState.TcpSyn));
        Assert.Equal(1000, Timeouts.For(FlowState.TcpEstablished));
        Assert.Equal(50, Timeouts.For(FlowState.TcpClosing));
        Assert.Equal(500, Timeouts.For(FlowState.Udp));
        Assert.Equal(0, Timeouts.For(FlowState.Free));
    }

    [Fact]
    public void IndexOf_LiveEntry_ItsSlot_AbsentOrExpired_MinusOneAndNothingChanged()
    {
        var table = new FlowTable<FlowKey>(1024, Timeouts);
        var key = Key(2);
        var hash = FlowHash.Compute(key, 1);
        table.Insert(key, hash, backendId: 3, FlowState.TcpSyn, T0);

        var slot = table.IndexOf(key, hash, T0 + 1);

        Assert.Equal(3, table.Slot(slot).BackendId);
        Assert.Equal(key, table.Slot(slot).Key);
        Assert.Equal(-1, table.IndexOf(Key(3), FlowHash.Compute(Key(3), 1), T0 + 1));
        Assert.Equal(-1, table.IndexOf(key, hash, T0 + Timeouts.TcpSynMs + 1));
        Assert.Equal(FlowState.TcpSyn, table.Slot(slot).State); // unlike Find, the expired entry is the worker's to free
    }

    [Theory]
    [InlineData(FlowState.TcpSyn, "syn")]
    [InlineData(FlowState.TcpEstablished, "established")]
    [InlineData(FlowState.TcpClosing, "closing")]
    [InlineData(FlowState.Udp, "udp")]
    public void Name_EachState(FlowState state, string name)
    {
        Assert.Equal(name, FlowTable.Name(state));
    }

    [Fact]
    public void Slots_AreFortyBytesForIpv4_AndOneCacheLineForIpv6()
    {
        Assert.Equal(40, Unsafe.SizeOf<FlowEntry<FlowKey>>());
        Assert.Equal(64, Unsafe.SizeOf<FlowEntry<FlowKey6>>());
    }

    [Fact]
    public void Ipv6Table_FindsByAll128BitsOfBothAddresses()
    {
        var table = new FlowTable<FlowKey6>(64, Timeouts);
        var source = Ipv6.Parse("2001:db8:ffff::10");
        var vip = Ipv6.Parse("2001:db8::100");
        var key = new FlowKey6(IpProtocols.Tcp, source, vip, 40000, 80);
        var hash = FlowHash.Compute6(key, 7);
        table.Insert(key, hash, 3, FlowState.TcpSyn, T0);

        Assert.Equal(3, table.Find(key, hash, T0).BackendId);
        // Same hash, keys that differ only in the high or the low half of an address: no match.
        foreach (var other in new[]
                 {
                     new FlowKey6(IpProtocols.Tcp, source ^ ((UInt128)1 << 127), vip, 40000, 80),
                     new FlowKey6(IpProtocols.Tcp, source, vip ^ 1, 40000, 80),
                     new FlowKey6(IpProtocols.Udp, source, vip, 40000, 80),
                 })
            Assert.True(Unsafe.IsNullRef(ref table.Find(other, hash, T0)));
        Assert.Equal(source, key.SourceAddress);
        Assert.Equal(vip, key.DestinationAddress);
    }
}
