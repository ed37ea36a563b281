using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Forwarding.Nat;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Tests.Flows;

/// <summary>The tally the tables keep as their entries change must always be what a walk of the tables counts: held
/// entries per backend, and of those the closing ones.</summary>
public class FlowTallyTests
{
    private static readonly FlowTimeouts Timeouts = new(TcpSynMs: 100, TcpEstablishedMs: 1000, TcpClosingMs: 50, UdpMs: 500);
    private const long T0 = 10_000;

    private static FlowKey Key(int i) => new(IpProtocols.Tcp, 0xC0000200u + (uint)i, 0x0A000064, (ushort)(1000 + i), 80);

    [Fact]
    public void Insert_SetState_Rebind_MoveTheCounts()
    {
        var table = new FlowTable<FlowKey>(1024, Timeouts);
        var tally = table.Tally;
        ref var a = ref table.Insert(Key(1), 1, backendId: 3, FlowState.TcpSyn, T0);
        table.Insert(Key(2), 2, backendId: 3, FlowState.TcpEstablished, T0);
        Assert.Equal((2, 2), (tally.Held(3), tally.Active(3)));

        table.SetState(ref a, FlowState.TcpClosing);
        Assert.Equal((2, 1), (tally.Held(3), tally.Active(3)));

        // A fresh SYN reuses the closing flow's 5-tuple and is decided again, to backend 4.
        table.Rebind(ref a, 4, FlowState.TcpSyn);
        Assert.Equal((1, 1), (tally.Held(3), tally.Active(3)));
        Assert.Equal((1, 1), (tally.Held(4), tally.Active(4)));
        Assert.Equal(2, table.Held);
    }

    [Fact]
    public void ExpiredEntry_LeavesTheCount_WhenFound_OrSwept_OrReused()
    {
        var table = new FlowTable<FlowKey>(1024, Timeouts);
        table.Insert(Key(1), 1, 5, FlowState.TcpEstablished, T0);
        table.Insert(Key(2), 2, 5, FlowState.TcpEstablished, T0);
        table.Insert(Key(3), 3, 5, FlowState.TcpClosing, T0);
        var later = T0 + Timeouts.TcpEstablishedMs + 1;

        // Expired but not met: still held (the sweep lets go of it within its period).
        Assert.Equal(3, table.Tally.Held(5));
        Assert.True(Unsafe.IsNullRef(ref table.Find(Key(1), 1, later)));
        Assert.Equal(2, table.Tally.Held(5));

        Assert.Equal(2, table.Sweep(later, table.Capacity));
        Assert.Equal(0, table.Tally.Held(5));
        Assert.Equal(0, table.Tally.Active(5));
        Assert.Equal(0, table.Held);
    }

    [Fact]
    public void Eviction_TakesTheVictimsBackendDown()
    {
        var table = new FlowTable<FlowKey>(8, Timeouts); // one bucket of 8 ways
        for (var i = 0; i < 8; i++) table.Insert(Key(i), 7, backendId: 1, FlowState.TcpEstablished, T0 + i);
        table.Insert(Key(99), 7, backendId: 2, FlowState.TcpSyn, T0 + 20);

        Assert.Equal(1, table.Evictions);
        Assert.Equal(7, table.Tally.Held(1));
        Assert.Equal(1, table.Tally.Held(2));
        Assert.Equal(8, table.Held);
    }

    [Fact]
    public void RandomChanges_TallyAlwaysEqualsAWalk()
    {
        var rng = new Random(1234);
        var table = new FlowTable<FlowKey>(256, Timeouts);
        var now = T0;
        for (var step = 0; step < 20_000; step++)
        {
            now += rng.Next(0, 20);
            var k = rng.Next(0, 600);
            var key = Key(k);
            var hash = (uint)k * 2654435761u;
            ref var e = ref table.Find(key, hash, now);
            var op = rng.Next(0, 4);
            if (Unsafe.IsNullRef(ref e)) table.Insert(key, hash, rng.Next(0, 6), op == 0 ? FlowState.Udp : FlowState.TcpSyn, now);
            else if (op == 0) table.SetState(ref e, FlowState.TcpClosing);
            else if (op == 1) table.SetState(ref e, FlowState.TcpEstablished);
            else if (op == 2) table.Rebind(ref e, rng.Next(0, 6), FlowState.TcpSyn);
            if (step % 97 == 0) table.Sweep(now, rng.Next(1, 64));
            if (step % 500 == 0) AssertTallyMatchesWalk(table);
        }
        table.Sweep(now, table.Capacity);
        AssertTallyMatchesWalk(table);
        Assert.Equal(table.CountLive(now), table.Held);
    }

    private static void AssertTallyMatchesWalk(FlowTable<FlowKey> table)
    {
        var held = new int[6];
        var closing = new int[6];
        var total = 0;
        for (var i = 0; i < table.Capacity; i++)
        {
            var e = table.Slot(i);
            if (e.State == FlowState.Free) continue;
            total++;
            held[e.BackendId]++;
            if (e.State == FlowState.TcpClosing) closing[e.BackendId]++;
        }
        Assert.Equal(total, table.Held);
        for (var b = 0; b < 6; b++)
        {
            Assert.Equal(held[b], table.Tally.Held(b));
            Assert.Equal(held[b] - closing[b], table.Tally.Active(b));
        }
    }

    [Fact]
    public void NatSessions_CreateCloseRemove_MoveTheWorkersTally()
    {
        var counters = new WorkerCounters();
        var sessions = new NatSessionTable<FlowKey>(64, counters);
        var template = new NatSession<FlowKey>
        {
            Forward = Key(1), ForwardHash = 11, Reverse = Key(2), ReverseHash = 12, BackendId = 9, ServiceId = 0,
            State = FlowState.TcpSyn, LastSeenMs = T0, Timeouts = Timeouts,
        };
        ref var s = ref sessions.Create(template, T0);
        Assert.Equal((1, 1), (counters.Tally.Held(9), counters.Tally.Active(9)));

        sessions.SetState(ref s, FlowState.TcpClosing);
        Assert.Equal((1, 0), (counters.Tally.Held(9), counters.Tally.Active(9)));

        sessions.Remove(ref s);
        Assert.Equal((0, 0), (counters.Tally.Held(9), counters.Tally.Active(9)));
    }

    [Fact]
    public void OutOfRangeIds_AreNotCounted()
    {
        var table = new FlowTable<FlowKey>(64, Timeouts);
        table.Insert(Key(1), 1, backendId: -1, FlowState.TcpSyn, T0);
        table.Insert(Key(2), 2, backendId: FlowTally.MaxBackendIds, FlowState.TcpSyn, T0);
        Assert.Equal(0, table.Tally.Held(-1));
        Assert.Equal(0, table.Tally.Active(FlowTally.MaxBackendIds));
        Assert.Equal(2, table.Held);
    }
}
