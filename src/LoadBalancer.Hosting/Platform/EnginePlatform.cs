using System.Net;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Hosting.Platform;

/// <summary>Everything the engine asks of the host's network stack, each behind its own small interface: the
/// Linux implementation needs CAP_NET_RAW and CAP_NET_ADMIN, the fakes (tests) need nothing, and the engine
/// never knows which it has.</summary>
public sealed record EnginePlatform(
    ILinks Links,
    IFramePorts Frames,
    IIngressDrops IngressDrops,
    IReinjectDevices ReinjectDevices,
    IArpSockets Arp,
    IHeartbeats Heartbeats,
    ICpus Cpus,
    ISyncSockets Sync,
    IRouteTables Routes,
    IInterfaceClaims Claims,
    INeighborDiscoverySockets NeighborDiscovery);

/// <summary>What the engine needs to know about an interface: the kernel's index (names the TAP), its MAC, its
/// MTU, its IPv4 address (0 when it has none) and its IPv6 address (a global one, else its link-local one; 0 when it
/// has none).</summary>
public sealed record LinkFacts(string Name, int IfIndex, MacAddress Mac, int Mtu, uint Ipv4Address, UInt128 Ipv6Address = default);

public interface ILinks
{
    /// <exception cref="InvalidOperationException">The interface does not exist.</exception>
    LinkFacts Read(string name);
}

/// <summary>A frame port the engine reads: an AF_PACKET ring on Linux.</summary>
public interface IReceivePort : IFramePort
{
    /// <summary>Frames the kernel could not fit in the ring, since it was opened.</summary>
    long KernelDrops { get; }

    /// <summary>Receive frames to a multicast MAC (the CLUSTERIP cluster MAC) even where the NIC filters them.</summary>
    void JoinMulticast(MacAddress mac);
}

/// <summary>The worker a port is opened for (numbered across the engine) and the queue of the interface it reads
/// (its number among the interface's workers): one worker's ports share what they must (AF_XDP: one UMEM, so a frame
/// leaves another interface in place), and each worker reads its own queue.</summary>
public readonly record struct PortOwner(int Worker, int Queue);

/// <summary>Opens the workers' receive ports and transmitters: AF_PACKET rings, or AF_XDP sockets (<c>io:</c>).</summary>
public interface IFramePorts
{
    /// <param name="interfaceIndex">The interface's index in the engine's plan: the port stamps it on every frame.</param>
    /// <param name="fanoutGroup">Shared by the workers reading the interface; null with one worker.</param>
    IReceivePort OpenReceiver(string interfaceName, int interfaceIndex, int? fanoutGroup, FanoutKey fanoutKey, PortOwner owner);

    /// <summary>A transmitter for one worker on one interface. <paramref name="reader"/> is that worker's own
    /// receive port on the same interface, if it has one (Linux sends frames too big for a TX ring slot through
    /// its socket). The engine disposes what it gets when it stops.</summary>
    IFrameTransmitter OpenTransmitter(string interfaceName, IReceivePort? reader, PortOwner owner);
}

/// <summary>A NAT backend's replies: from this address and port, over this protocol. An IPv6 backend has
/// <see cref="Address"/> 0 and its address in <see cref="Address6"/>.</summary>
public readonly record struct ReplyFilter(uint Address, byte Protocol, ushort Port)
{
    public UInt128 Address6 { get; init; }
}

/// <summary>Keeps the kernel away from the frames the engine forwards (nftables netdev ingress on Linux).</summary>
public interface IIngressDrops
{
    /// <summary>Drops, before the kernel's IP stack, frames to <paramref name="vips"/> and the
    /// <paramref name="replies"/> not addressed to <paramref name="localAddress"/> (IPv6 replies: to
    /// <paramref name="localAddress6"/>; the host's own conversations stay the kernel's). Disposing removes it.</summary>
    IDisposable Install(string interfaceName, IReadOnlyCollection<uint> vips, IReadOnlyCollection<UInt128> vips6, IReadOnlyCollection<ReplyFilter> replies,
        uint localAddress, UInt128 localAddress6);

    /// <summary>What the operator sees (for the log): the nft table's name.</summary>
    string Describe(string interfaceName);
}

/// <summary>A device frames are written into so the local stack receives them as if from a NIC (CLUSTERIP).
/// It exists as long as the engine holds it open.</summary>
public interface IReinjectDevice : IFrameTransmitter, IDisposable
{
    string Name { get; }
}

public interface IReinjectDevices
{
    /// <summary>Creates the device, up, with no reverse-path filter (re-injected frames come from clients whose
    /// route back is through another interface); with <paramref name="ipv6"/>, also ready to take re-injected IPv6
    /// (IPv6 on, no duplicate address detection, router discovery or forwarding on it: modes.md, CLUSTERIP6).</summary>
    IReinjectDevice Create(string name, bool ipv6);
}

/// <summary>A raw link-layer socket on one interface for the control plane's own frames: ARP, or IPv6 neighbour
/// discovery.</summary>
public interface ILinkSocket : IDisposable
{
    string InterfaceName { get; }
    /// <summary>Waits up to <paramref name="timeoutMs"/>; the frame's length, or 0 when none came.</summary>
    int Receive(Span<byte> buffer, int timeoutMs);
    bool Send(ReadOnlySpan<byte> frame);
    void JoinMulticast(MacAddress mac);
}

public interface IArpSockets
{
    ILinkSocket Open(string interfaceName);
}

/// <summary>Sockets that see the interface's neighbour solicitations and advertisements (ICMPv6 135/136) and nothing
/// else of its IPv6 traffic.</summary>
public interface INeighborDiscoverySockets
{
    ILinkSocket Open(string interfaceName);
}

/// <summary>CLUSTERIP: a listener that exists exactly as long as this engine does (peers connect to it before
/// their health check of this node).</summary>
public interface IHeartbeats
{
    /// <exception cref="InvalidOperationException">The address or port cannot be listened on.</exception>
    IDisposable Listen(IPAddress address, int port);
}

/// <summary>Where threads run (<c>cpus:</c>).</summary>
public interface ICpus
{
    void PinCurrentThread(int cpu);
}

/// <summary>A datagram socket bound to the sync port, talking to the HA peer (state sync).</summary>
public interface ISyncSocket : IDisposable
{
    /// <summary>Sends one message to the peer; false when the kernel refused it (no route yet, buffer full).</summary>
    bool Send(ReadOnlySpan<byte> message);

    /// <summary>Waits up to <paramref name="timeoutMs"/> for one datagram; its length (0 on timeout) and the IPv4
    /// address it came from (host order).</summary>
    int Receive(Span<byte> buffer, int timeoutMs, out uint source);
}

public interface ISyncSockets
{
    /// <param name="interfaceName">Bind to this device only (<c>ha.sync.interface</c>); null: wherever the route to
    /// the peer goes.</param>
    ISyncSocket Open(IPAddress peer, int port, string? interfaceName);
}

/// <summary>Routes to announced VIPs in one kernel table, held by this process only (they vanish with it).</summary>
public interface IAnnouncedRoutes : IDisposable
{
    /// <summary>The device the routes go through (for logs and status).</summary>
    string Device { get; }
    void Add(uint vip);
    void Remove(uint vip);
}

public interface IRouteTables
{
    IAnnouncedRoutes Open(int table);
}

/// <summary>One engine per interface: a claim is taken on every interface the engine reads before anything of the
/// kernel is touched, and released when the engine goes (however it goes).</summary>
public interface IInterfaceClaims
{
    /// <summary>The claim, or null when another engine holds the interface.</summary>
    IDisposable? TryClaim(string interfaceName);
}

/// <summary>Another engine already serves an interface this one would read. <c>lb run</c> refuses (exit 2) and leaves
/// the first engine untouched.</summary>
public sealed class InterfaceInUseException(string interfaceName)
    : InvalidOperationException($"interface {interfaceName} is already served by another engine in this network namespace; refusing to start")
{
    public string InterfaceName { get; } = interfaceName;
}
