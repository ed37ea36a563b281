using System.Buffers.Binary;
using System.Security.Cryptography;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Sync;

namespace LoadBalancer.Hosting.Sync;

public enum SyncMessageType : byte
{
    /// <summary>Sent every second by each side: its incarnation and role, so the other knows it is there.</summary>
    Hello = 1,
    /// <summary>Flow-table entries and NAT sessions.</summary>
    Entries = 2,
}

/// <summary>A message's header as read (see <see cref="SyncWire"/>).</summary>
public readonly record struct SyncHeader(SyncMessageType Type, bool Authenticated, HaRole Role, ulong Epoch, ulong Sequence, int Count, int RecordSize);

/// <summary>Why a message was refused (each a counted drop under <c>ha.sync.refused</c>).</summary>
public enum SyncRefusal
{
    None,
    /// <summary>Not from <c>ha.sync.peer</c>.</summary>
    Source,
    /// <summary>Too short, not ours, or its length disagrees with its header.</summary>
    Malformed,
    /// <summary>A version this engine does not read.</summary>
    Version,
    /// <summary>No valid HMAC where a key is set, or one where none is.</summary>
    Authentication,
    /// <summary>Seen before, or older than the replay window.</summary>
    Replay,
}

/// <summary>The sync protocol's message layout, version 1. All fields big-endian (network order).
/// Header, 32 bytes:
///   0 magic "LBSY" | 4 version (1) | 5 type (1 hello, 2 entries) | 6 flags (bit 0: HMAC trailer) | 7 sender's role
///   (0 backup, 1 master, 2 fault) | 8 epoch (u64: the sender's start, Unix µs) | 16 sequence (u64, from 1 per epoch)
///   | 24 record count (u16) | 26 record size (u16, 32 in version 1) | 28 reserved (0).
/// Records, <c>record size</c> bytes each (a reader skips what lies past the fields it knows, so a later version
/// may append fields without breaking this one):
///   0 kind (1 DR flow, 2 NAT session) | 1 state (1 SYN, 2 established, 3 closing, 4 UDP) | 2 protocol | 3 reserved |
///   4 client address | 8 VIP | 12 client port | 14 VIP port | 16 backend address | 20 backend port |
///   22 client-side next-hop MAC (6 bytes; zero for DR) | 28 age: ms since the entry last saw a packet (u32).
/// Trailer when flag bit 0 is set: HMAC-SHA256 (32 bytes) of everything before it, keyed with <c>key_file</c>'s key.</summary>
public static class SyncWire
{
    public const byte Version = 1;
    public const int HeaderSize = 32;
    public const int RecordSize = 32;
    public const int MacSize = 32;
    /// <summary>Fits one Ethernet frame with room for IPv4 and UDP headers: 32 + 40 × 32 + 32 = 1344 bytes.</summary>
    public const int MaxRecords = 40;
    public const int MaxMessageSize = HeaderSize + MaxRecords * RecordSize + MacSize;
    private const uint Magic = 0x4C425359; // "LBSY"
    private const byte FlagAuthenticated = 1;

    public static void WriteHeader(Span<byte> message, SyncMessageType type, bool authenticated, HaRole role, ulong epoch, ulong sequence, int count)
    {
        BinaryPrimitives.WriteUInt32BigEndian(message, Magic);
        message[4] = Version;
        message[5] = (byte)type;
        message[6] = authenticated ? FlagAuthenticated : (byte)0;
        message[7] = role switch { HaRole.Master => 1, HaRole.Fault => 2, _ => 0 };
        BinaryPrimitives.WriteUInt64BigEndian(message[8..], epoch);
        BinaryPrimitives.WriteUInt64BigEndian(message[16..], sequence);
        BinaryPrimitives.WriteUInt16BigEndian(message[24..], (ushort)count);
        BinaryPrimitives.WriteUInt16BigEndian(message[26..], RecordSize);
        BinaryPrimitives.WriteUInt32BigEndian(message[28..], 0);
    }

    /// <summary>Writes <paramref name="record"/> with its age as of <paramref name="nowMs"/> (the sender's clock).</summary>
    public static void WriteRecord(Span<byte> destination, in SyncRecord record, long nowMs)
    {
        destination[0] = (byte)record.Kind;
        destination[1] = (byte)record.State;
        destination[2] = record.Key.Protocol;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], record.Key.SourceAddress);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], record.Key.DestinationAddress);
        BinaryPrimitives.WriteUInt16BigEndian(destination[12..], record.Key.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(destination[14..], record.Key.DestinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], record.BackendAddress);
        BinaryPrimitives.WriteUInt16BigEndian(destination[20..], record.BackendPort);
        record.ClientHop.Write(destination[22..]);
        BinaryPrimitives.WriteUInt32BigEndian(destination[28..], (uint)Math.Clamp(nowMs - record.LastSeenMs, 0, uint.MaxValue));
    }

    /// <summary>The record at <paramref name="source"/>, its age turned into a last-seen time on this engine's clock;
    /// false for a kind or state this version does not know.</summary>
    public static bool TryReadRecord(ReadOnlySpan<byte> source, long nowMs, out SyncRecord record)
    {
        record = new SyncRecord
        {
            Kind = (SyncKind)source[0],
            State = (FlowState)source[1],
            Key = new FlowKey(source[2], BinaryPrimitives.ReadUInt32BigEndian(source[4..]), BinaryPrimitives.ReadUInt32BigEndian(source[8..]),
                BinaryPrimitives.ReadUInt16BigEndian(source[12..]), BinaryPrimitives.ReadUInt16BigEndian(source[14..])),
            BackendAddress = BinaryPrimitives.ReadUInt32BigEndian(source[16..]),
            BackendPort = BinaryPrimitives.ReadUInt16BigEndian(source[20..]),
            ClientHop = MacAddress.Read(source[22..]),
            LastSeenMs = nowMs - BinaryPrimitives.ReadUInt32BigEndian(source[28..]),
        };
        return record.Kind is SyncKind.Flow or SyncKind.Session
               && record.State is FlowState.TcpSyn or FlowState.TcpEstablished or FlowState.TcpClosing or FlowState.Udp;
    }

    /// <summary>Appends the HMAC over <paramref name="message"/>[..length]; returns the new length.</summary>
    public static int Seal(Span<byte> message, int length, byte[] key)
    {
        HMACSHA256.HashData(key, message[..length], message.Slice(length, MacSize));
        return length + MacSize;
    }

    /// <summary>Checks a whole datagram: layout, version, and (with a key) its HMAC. The replay window is the caller's.</summary>
    public static SyncRefusal Check(ReadOnlySpan<byte> message, byte[]? key, out SyncHeader header)
    {
        header = default;
        if (message.Length < HeaderSize || BinaryPrimitives.ReadUInt32BigEndian(message) != Magic) return SyncRefusal.Malformed;
        if (message[4] != Version) return SyncRefusal.Version;
        var authenticated = (message[6] & FlagAuthenticated) != 0;
        var count = BinaryPrimitives.ReadUInt16BigEndian(message[24..]);
        var recordSize = BinaryPrimitives.ReadUInt16BigEndian(message[26..]);
        var type = (SyncMessageType)message[5];
        if (type is not (SyncMessageType.Hello or SyncMessageType.Entries) || (count > 0 && recordSize < RecordSize)) return SyncRefusal.Malformed;
        var body = HeaderSize + count * recordSize;
        if (message.Length != body + (authenticated ? MacSize : 0)) return SyncRefusal.Malformed;
        if (authenticated != (key is not null)) return SyncRefusal.Authentication;
        if (key is not null)
        {
            Span<byte> expected = stackalloc byte[MacSize];
            HMACSHA256.HashData(key, message[..body], expected);
            if (!CryptographicOperations.FixedTimeEquals(expected, message.Slice(body, MacSize))) return SyncRefusal.Authentication;
        }
        var role = message[7] switch { 1 => HaRole.Master, 2 => HaRole.Fault, _ => HaRole.Backup };
        header = new SyncHeader(type, authenticated, role, BinaryPrimitives.ReadUInt64BigEndian(message[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(message[16..]), count, recordSize);
        return SyncRefusal.None;
    }
}
