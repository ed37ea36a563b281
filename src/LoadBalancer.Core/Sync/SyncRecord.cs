using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Sync;

public enum SyncKind : byte
{
    /// <summary>A DR flow-table entry.</summary>
    Flow = 1,
    /// <summary>A NAT session.</summary>
    Session = 2,
}

/// <summary>One flow-table entry or NAT session on its way to or from the HA peer. The backend is named by its
/// address and port, not by this engine's backend id (ids are local); the service by the key's destination.</summary>
public struct SyncRecord
{
    public SyncKind Kind;
    public FlowState State;
    /// <summary>The flow as the client sends it: client → VIP:port.</summary>
    public FlowKey Key;
    public uint BackendAddress;
    public ushort BackendPort;
    /// <summary>NAT: the MAC the client's frames came from, where replies go; zero for a DR flow.</summary>
    public MacAddress ClientHop;
    /// <summary>When the entry last saw a packet, on the clock of the engine holding the record (the wire carries
    /// an age instead, so the two engines' clocks never need to agree).</summary>
    public long LastSeenMs;
}
