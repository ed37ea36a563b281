using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.Nat;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Sync;

namespace LoadBalancer.Core.Tests.Sync;

public class SyncRingTests
{
    [Fact]
    public void Ring_KeepsOrder_RefusesWhenFull_AndWrapsAround()
    {
        var ring = new SyncRing(4);
        for (var round = 0; round < 3; round++)
        {
            for (uint i = 0; i < 4; i++) Assert.True(ring.TryWrite(new SyncRecord { BackendAddress = i }));
            Assert.False(ring.TryWrite(new SyncRecord()));
            Assert.Equal(0, ring.Free);
            for (uint i = 0; i < 4; i++)
            {
                Assert.True(ring.TryRead(out var r));
                Assert.Equal(i, r.BackendAddress);
            }
            Assert.False(ring.TryRead(out _));
        }
    }

    [Fact]
    public void Ring_OneProducerOneConsumer_LosesNothingItAccepted()
    {
        var ring = new SyncRing(64);
        const int count = 200_000;
        var accepted = new List<uint>();
        var producer = new Thread(() =>
        {
            for (uint i = 0; i < count; i++)
                if (ring.TryWrite(new SyncRecord { BackendAddress = i })) lock (accepted) accepted.Add(i);
        });
        var read = new List<uint>();
        producer.Start();
        while (producer.IsAlive || ring.Count > 0)
            while (ring.TryRead(out var r)) read.Add(r.BackendAddress);
        producer.Join();
        while (ring.TryRead(out var r)) read.Add(r.BackendAddress);
        Assert.Equal(accepted, read);
    }
}

public class FlowTableMergeTests
{
    private static readonly FlowKey Key = new(IpProtocols.Tcp, 1, 2, 3, 4);

    [Fact]
    public void Merge_InsertsWhenAbsent_TakesTheNewer_IgnoresTheOlderAndTheExpired()
    {
        var table = new FlowTable<FlowKey>(64, FlowTimeouts.Default);
        Assert.True(table.Merge(Key, 9, backendId: 1, FlowState.TcpEstablished, lastSeenMs: 1_000, nowMs: 2_000));
        Assert.Equal(1, table.Find(Key, 9, 2_000).BackendId);
        Assert.Equal(1_000, table.Find(Key, 9, 2_000).LastSeenMs);

        Assert.False(table.Merge(Key, 9, 2, FlowState.TcpEstablished, 500, 2_000));
        Assert.Equal(1, table.Find(Key, 9, 2_000).BackendId);
        Assert.True(table.Merge(Key, 9, 2, FlowState.TcpClosing, 1_500, 2_000));
        Assert.Equal(FlowState.TcpClosing, table.Find(Key, 9, 2_000).State);

        var other = Key with { SourcePort = 99 };
        Assert.False(table.Merge(other, 10, 1, FlowState.TcpSyn, 0, FlowTimeouts.Default.TcpSynMs + 1));
        Assert.Equal(1, table.CountLive(2_000));
    }
}

public class NatSessionMergeTests
{
    private static NatSession<FlowKey> Copy(int backendId, long lastSeenMs, ushort backendPort = 80) => new()
    {
        Forward = new FlowKey(IpProtocols.Tcp, 1, 2, 3, 80), ForwardHash = 11,
        Reverse = new FlowKey(IpProtocols.Tcp, 5, 1, backendPort, 3), ReverseHash = (uint)(20 + backendPort),
        BackendId = backendId, ServiceId = 0, State = FlowState.TcpEstablished, LastSeenMs = lastSeenMs,
        Timeouts = FlowTimeouts.Default, ClientHop = new MacAddress(0x0200000000aa),
    };

    [Fact]
    public void Merge_CreatesUpdatesOrReplaces_AndKeepsTheGaugesRight()
    {
        var counters = new WorkerCounters();
        var table = new NatSessionTable<FlowKey>(64, counters);
        Assert.True(table.Merge(Copy(1, 1_000), 2_000));
        Assert.False(table.Merge(Copy(1, 900), 2_000));                           // ours is newer
        Assert.True(table.Merge(Copy(1, 1_500) with { State = FlowState.TcpClosing }, 2_000));
        Assert.Equal(FlowState.TcpClosing, table.FindForward(Copy(1, 0).Forward, 11, 2_000).State);

        // The peer's session went to another backend: ours is replaced, reply side included.
        Assert.True(table.Merge(Copy(2, 1_800, backendPort: 81), 2_000));
        Assert.Equal(2, table.FindForward(Copy(1, 0).Forward, 11, 2_000).BackendId);
        Assert.True(System.Runtime.CompilerServices.Unsafe.IsNullRef(ref table.FindReverse(Copy(1, 0).Reverse, 100, 2_000)));
        Assert.Equal(1, table.Count);
        Assert.Equal(0, counters.BackendSessions[1]);
        Assert.Equal(1, counters.BackendSessions[2]);
    }
}
