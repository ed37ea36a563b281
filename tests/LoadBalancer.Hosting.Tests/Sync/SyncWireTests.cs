using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Sync;
using LoadBalancer.Hosting.Sync;

namespace LoadBalancer.Hosting.Tests.Sync;

public class SyncWireTests
{
    private static readonly byte[] Key = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();

    private static readonly SyncRecord Session = new()
    {
        Kind = SyncKind.Session, State = FlowState.TcpEstablished,
        Key = new FlowKey(IpProtocols.Tcp, Ipv4.Parse("10.99.2.2"), Ipv4.Parse("10.99.0.100"), 40000, 80),
        BackendAddress = Ipv4.Parse("10.99.4.12"), BackendPort = 8081, ClientHop = MacAddress.Parse("02:00:00:00:0a:01"), LastSeenMs = 5_000,
    };

    private static byte[] Message(byte[]? key, int count = 1, long nowMs = 6_500)
    {
        var m = new byte[SyncWire.MaxMessageSize];
        SyncWire.WriteHeader(m, SyncMessageType.Entries, key is not null, HaRole.Master, 77, 3, count);
        for (var i = 0; i < count; i++) SyncWire.WriteRecord(m.AsSpan(SyncWire.HeaderSize + i * SyncWire.RecordSize), Session, nowMs);
        var length = SyncWire.HeaderSize + count * SyncWire.RecordSize;
        if (key is not null) length = SyncWire.Seal(m, length, key);
        return m[..length];
    }

    [Fact]
    public void Record_RoundTrips_WithItsAgeOnTheReceiversClock()
    {
        var m = Message(null);
        Assert.Equal(SyncRefusal.None, SyncWire.Check(m, null, out var header));
        Assert.Equal(new SyncHeader(SyncMessageType.Entries, false, HaRole.Master, 77, 3, 1, SyncWire.RecordSize), header);

        // Sent at 6.5 s on the sender's clock, 1.5 s after the entry last saw a packet; read at 100 s on ours.
        Assert.True(SyncWire.TryReadRecord(m.AsSpan(SyncWire.HeaderSize), 100_000, out var r));
        Assert.Equal(Session with { LastSeenMs = 100_000 - 1_500 }, r);
    }

    [Fact]
    public void Layout_IsTheDocumentedOne()
    {
        var m = Message(null);
        Assert.Equal("LBSY"u8.ToArray(), m[..4]);
        Assert.Equal([1, 2, 0, 1], m[4..8]);                                        // version, entries, no HMAC, master
        var r = m.AsSpan(SyncWire.HeaderSize).ToArray();
        Assert.Equal([2, 2, 6, 0, 10, 99, 2, 2, 10, 99, 0, 100, 0x9c, 0x40, 0, 80, 10, 99, 4, 12, 0x1f, 0x91], r[..22]);
        Assert.Equal([2, 0, 0, 0, 0x0a, 1], r[22..28]);
        Assert.Equal([0, 0, 0x05, 0xdc], r[28..32]);                                // age 1500 ms
    }

    [Fact]
    public void Check_RefusesWhatIsNotAWholeMessageOfThisVersion()
    {
        var m = Message(null, 2);
        Assert.Equal(SyncRefusal.Malformed, SyncWire.Check(m[..^1], null, out _));
        Assert.Equal(SyncRefusal.Malformed, SyncWire.Check(m[..10], null, out _));
        var bad = (byte[])m.Clone();
        bad[0] = (byte)'X';
        Assert.Equal(SyncRefusal.Malformed, SyncWire.Check(bad, null, out _));
        bad = (byte[])m.Clone();
        bad[4] = 2;
        Assert.Equal(SyncRefusal.Version, SyncWire.Check(bad, null, out _));
    }

    [Fact]
    public void Check_WithAKey_WantsItsHmac()
    {
        Assert.Equal(SyncRefusal.None, SyncWire.Check(Message(Key), Key, out _));
        Assert.Equal(SyncRefusal.Authentication, SyncWire.Check(Message(null), Key, out _));
        Assert.Equal(SyncRefusal.Authentication, SyncWire.Check(Message(Key), null, out _));
        Assert.Equal(SyncRefusal.Authentication, SyncWire.Check(Message(Key), Enumerable.Repeat((byte)1, 32).ToArray(), out _));
        for (var i = 0; i < SyncWire.HeaderSize + SyncWire.RecordSize; i += 7)
        {
            var m = Message(Key);
            m[i] ^= 0x80;
            Assert.NotEqual(SyncRefusal.None, SyncWire.Check(m, Key, out _));
        }
    }

    [Fact]
    public void TryReadRecord_UnknownKindOrState_IsSkipped()
    {
        var m = Message(null);
        m[SyncWire.HeaderSize] = 9;
        Assert.False(SyncWire.TryReadRecord(m.AsSpan(SyncWire.HeaderSize), 0, out _));
        m = Message(null);
        m[SyncWire.HeaderSize + 1] = 0;
        Assert.False(SyncWire.TryReadRecord(m.AsSpan(SyncWire.HeaderSize), 0, out _));
    }
}

public class ReplayWindowTests
{
    [Fact]
    public void Accept_EachSequenceOnce_WithinTheWindow_AndOnlyNewerEpochs()
    {
        var w = new ReplayWindow();
        Assert.True(w.Accept(10, 1));
        Assert.False(w.Accept(10, 1));
        Assert.True(w.Accept(10, 5));
        Assert.True(w.Accept(10, 3));                 // late but inside the window
        Assert.False(w.Accept(10, 3));
        Assert.True(w.Accept(10, 5 + ReplayWindow.Size));
        Assert.False(w.Accept(10, 5));                // now outside the window
        Assert.False(w.Accept(9, 1000));              // an older incarnation
        Assert.True(w.Accept(11, 1));                 // the peer restarted
        Assert.False(w.Accept(10, 1000));
    }
}
