using System.Net;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Sync;
using LoadBalancer.Hosting.Sync;
using LoadBalancer.TestKit;

namespace LoadBalancer.Hosting.Tests.Sync;

/// <summary>Two real engines (EngineBuilder over the fake platform) joined by their sync sockets: what the master
/// creates, the backup can serve. The sync threads are not started; each test runs the sender's pass
/// (<see cref="StateSync.Flush"/>) and hands the messages to the peer's receiver itself.</summary>
public class StateSyncTests
{
    private const string AddressA = "10.99.1.10", AddressB = "10.99.1.11";
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static BalancerConfig WithSync(BalancerConfig config, string peer, HaRole role, byte[]? key = null) => config with
    {
        Ha = new HaConfig { InitialRole = role, Sync = new HaSyncConfig { Peer = IPAddress.Parse(peer), Key = key, KeyFile = key is null ? null : "/k" } },
    };

    private static (TestEngine A, TestEngine B) NatPair(byte[]? keyA = null, byte[]? keyB = null, HaRole roleA = HaRole.Master) =>
        (new TestEngine(WithSync(NatFixture.Config(), AddressB, roleA, keyA), NatFixture.Interfaces),
         new TestEngine(WithSync(NatFixture.Config(), AddressA, HaRole.Backup, keyB), NatFixture.Interfaces));

    /// <summary>Everything <paramref name="from"/> sends in one pass, handed to <paramref name="to"/> as coming from
    /// <paramref name="source"/>; then the receiving worker's housekeeping installs it.</summary>
    private static List<SyncRefusal> Deliver(TestEngine from, TestEngine to, string source)
    {
        from.Engine.Sync!.Flush();
        var socket = from.Platform.SyncSockets.Single();
        var results = new List<SyncRefusal>();
        while (socket.Sent.TryDequeue(out var message)) results.Add(to.Engine.Sync!.Accept(message, Ipv4.Parse(source)));
        to.Worker.RunOnce();
        return results;
    }

    private static SyncReport Report(TestEngine e) => e.Engine.Sync!.Report();

    [Fact]
    public void NatSession_CreatedOnTheMaster_TranslatesTheBackendsReplyOnTheBackup()
    {
        var (a, b) = NatPair();
        Assert.Equal(Verdict.Transmit, a.Send(NatFixture.ClientTcp(41001, TcpFlags.Syn).Build()).Verdict);
        var reply = NatFixture.BackendTcp(41001, TcpFlags.Syn | TcpFlags.Ack);

        // Before sync, the backup has no session: the reply is not ours.
        Assert.Equal(Verdict.Pass, b.Send(reply.Build(), NatFixture.BackSide).Verdict);

        Assert.All(Deliver(a, b, AddressA), r => Assert.Equal(SyncRefusal.None, r));
        var translated = b.Send(reply.Build(), NatFixture.BackSide);

        Assert.Equal(Verdict.Transmit, translated.Verdict);
        Assert.Equal(NatFixture.RouterMac, MacAddress.Read(translated.Output));           // the synced client hop
        Assert.Equal(Ipv4.Parse(NatFixture.Vip), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(translated.Output.AsSpan(14 + 12)));
        Assert.Equal(1, Report(b).EntriesReceived);
        Assert.Equal(1, b.Engine.Workers[0].Processor.Worker.Sync!.Installed);
        Assert.Equal(1, b.Counters.ServiceSessions[0]);
    }

    [Fact]
    public void DrFlow_SyncedKeepsItsBackend_WhereThePeersTableWouldPickAnother()
    {
        var a = new TestEngine(WithSync(Fixtures.Config(), AddressB, HaRole.Master));
        var first = a.Send(FrameBuilder.Tcp(Fixtures.ClientIp, 40100, Fixtures.PoolVip, Fixtures.PoolPort).Flags(TcpFlags.Syn).Build());
        var picked = a.BackendOf(first.Output!, "pool");
        // On the peer, the backend A picked is drained: Maglev alone would send the flow elsewhere.
        var drained = Fixtures.Config(Fixtures.Pool(Enumerable.Range(1, Fixtures.PoolSize), i => $"pool-{i}" == picked ? 0 : 1));
        var b = new TestEngine(WithSync(drained, AddressA, HaRole.Backup));
        var next = FrameBuilder.Tcp(Fixtures.ClientIp, 40100, Fixtures.PoolVip, Fixtures.PoolPort).Flags(TcpFlags.Ack);

        Deliver(a, b, AddressA);

        Assert.Equal(picked, b.BackendOf(b.Send(next.Build()).Output!, "pool"));
    }

    [Fact]
    public void Backup_OffersNothing_UntilItIsMaster()
    {
        var (a, b) = NatPair(roleA: HaRole.Backup);
        a.Send(NatFixture.ClientTcp(41002, TcpFlags.Syn).Build());
        Deliver(a, b, AddressA);
        Assert.Equal(0, Report(a).EntriesSent);
        Assert.Equal(1, Report(a).Sent); // the hello

        a.Engine.Roles.Set(HaRole.Master, "test");
        a.Send(NatFixture.ClientTcp(41003, TcpFlags.Syn).Build());
        Deliver(a, b, AddressA);

        Assert.Equal(1, Report(a).EntriesSent);
    }

    [Fact]
    public void RestartedPeer_GetsEveryLiveEntry_EvenThoseCreatedWhileNobodyListened()
    {
        var (a, b) = NatPair(roleA: HaRole.Backup);
        for (ushort port = 42000; port < 42100; port++) a.Send(NatFixture.ClientTcp(port, TcpFlags.Syn).Build());
        a.Engine.Roles.Set(HaRole.Master, "test");

        // A hears B for the first time (its hello): A dumps its tables at its next housekeeping.
        Deliver(b, a, AddressB);
        a.Worker.RunOnce();
        Deliver(a, b, AddressA);

        Assert.Equal(100, Report(b).EntriesReceived);
        Assert.Equal(100, b.Counters.ServiceSessions[0]);
    }

    [Fact]
    public void LiveEntries_AreRefreshed_WithinTheRefreshInterval()
    {
        var (a, b) = NatPair();
        a.Send(NatFixture.ClientUdp(43000).Build());
        Deliver(a, b, AddressA);
        Assert.Equal(1, Report(a).EntriesSent);

        // Ten housekeeping calls spread over one refresh interval walk the whole table once (give or take the slot
        // where the walk starts and stops): the entry is offered again, and not once per call.
        for (var i = 0; i < 10; i++)
        {
            a.Clock.Advance(WorkerSync.RefreshMs / 10);
            a.Worker.RunOnce();
        }
        Deliver(a, b, AddressA);

        Assert.InRange(Report(a).EntriesSent, 2, 3);
        Assert.Equal(Report(a).EntriesSent, Report(b).EntriesReceived);
    }

    [Fact]
    public void Messages_FromAnotherAddress_WithAnotherKey_Replayed_OrTampered_AreRefusedAndCounted()
    {
        var (a, b) = NatPair(keyA: Key, keyB: Key);
        a.Send(NatFixture.ClientTcp(41004, TcpFlags.Syn).Build());
        a.Engine.Sync!.Flush();
        var messages = a.Platform.SyncSockets.Single().Sent.ToArray();
        var entries = messages.First(m => m[5] == (byte)SyncMessageType.Entries);
        var tampered = (byte[])entries.Clone();
        tampered[40] ^= 1;
        var other = new TestEngine(WithSync(NatFixture.Config(), AddressB, HaRole.Master, Enumerable.Repeat((byte)7, 32).ToArray()), NatFixture.Interfaces);
        other.Send(NatFixture.ClientTcp(41005, TcpFlags.Syn).Build());
        other.Engine.Sync!.Flush();
        var otherKey = other.Platform.SyncSockets.Single().Sent.First(m => m[5] == (byte)SyncMessageType.Entries);
        var sync = b.Engine.Sync!;

        Assert.Equal(SyncRefusal.Source, sync.Accept(entries, Ipv4.Parse("10.99.1.99")));
        Assert.Equal(SyncRefusal.Authentication, sync.Accept(tampered, Ipv4.Parse(AddressA)));
        Assert.Equal(SyncRefusal.Authentication, sync.Accept(otherKey, Ipv4.Parse(AddressA)));
        Assert.Equal(SyncRefusal.None, sync.Accept(entries, Ipv4.Parse(AddressA)));
        Assert.Equal(SyncRefusal.Replay, sync.Accept(entries, Ipv4.Parse(AddressA)));

        var report = Report(b);
        Assert.Equal(4, report.Refused);
        Assert.Equal(1, report.Received);
        Assert.Equal(1, report.EntriesReceived);
    }

    [Fact]
    public void UnauthenticatedMessage_RefusedWhereAKeyIsSet_AndTheOtherWayRound()
    {
        var (a, b) = NatPair(keyA: null, keyB: Key);
        Assert.All(Deliver(a, b, AddressA), r => Assert.Equal(SyncRefusal.Authentication, r));
        Assert.All(Deliver(b, a, AddressB), r => Assert.Equal(SyncRefusal.Authentication, r));
    }

    [Fact]
    public void FullInboundRing_DropsAndCounts_NeverBlocks()
    {
        var (a, b) = NatPair();
        var worker = b.Engine.Workers[0].Processor.Worker.Sync!;
        // Fill B's inbound ring without letting its worker drain it.
        while (worker.Inbound.TryWrite(new SyncRecord())) { }
        a.Send(NatFixture.ClientTcp(41006, TcpFlags.Syn).Build());
        a.Engine.Sync!.Flush();
        foreach (var m in a.Platform.SyncSockets.Single().Sent) b.Engine.Sync!.Accept(m, Ipv4.Parse(AddressA));

        Assert.Equal(1, Report(b).Dropped);
    }
}
