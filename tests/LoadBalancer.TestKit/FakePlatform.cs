using System.Collections.Concurrent;
using System.Net;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting.Platform;

namespace LoadBalancer.TestKit;

/// <summary>One interface of the engine under test: its name, MAC, IPv4 address, MTU and IPv6 address.</summary>
public readonly record struct TestInterface(string Name, MacAddress Mac, uint Address, int Mtu = 1500, UInt128 Address6 = default);

/// <summary>The engine's platform without a kernel: interfaces are the ones given, receive ports are
/// <see cref="InMemoryFramePort"/>s, transmitters and the TAP collect what is sent, ARP sockets and heartbeats
/// are queues and lists, and every ingress drop, multicast join, TAP and listener is recorded (and whether it was
/// removed again), so the composition root and the control plane are tested without root.</summary>
public sealed class FakePlatform
{
    private readonly Dictionary<string, TestInterface> _links;
    private int _nextIfIndex = 10;

    /// <param name="tapMac">The MAC the re-injection TAP gets when the engine creates one.</param>
    public FakePlatform(IEnumerable<TestInterface> interfaces, MacAddress? tapMac = null)
    {
        _links = interfaces.ToDictionary(i => i.Name);
        TapMac = tapMac ?? MacAddress.Parse("02:00:00:00:7a:01");
        Platform = new EnginePlatform(new Links(this), new Frames(this), new Drops(this), new TapFactory(this), new ArpFactory(this), new HeartbeatFactory(this), new Cpus(this), new SyncFactory(this), new RouteFactory(this), new ClaimFactory(this), new NeighborDiscoveryFactory(this));
    }

    public EnginePlatform Platform { get; }
    public MacAddress TapMac { get; }

    public List<FakeReceivePort> Receivers { get; } = new();
    /// <summary>Every transmitter opened, in order, with its interface.</summary>
    public List<(string Interface, InMemoryTransmitter Transmitter)> Transmitters { get; } = new();
    public List<FakeIngressDrop> IngressDrops { get; } = new();
    public List<FakeTap> Taps { get; } = new();
    public List<FakeLinkSocket> ArpSockets { get; } = new();
    /// <summary>Every neighbour discovery socket opened (one per interface with IPv6 services or neighbours).</summary>
    public List<FakeLinkSocket> NeighborDiscoverySockets { get; } = new();
    public List<FakeListener> Heartbeats { get; } = new();
    public ConcurrentQueue<int> PinnedCpus { get; } = new();
    /// <summary>Every route table opened (one per engine with <c>announce:</c>).</summary>
    public List<FakeAnnouncedRoutes> RouteTables { get; } = new();
    /// <summary>Every sync socket opened (one per engine with <c>ha.sync</c>).</summary>
    public List<FakeSyncSocket> SyncSockets { get; } = new();
    /// <summary>Interfaces whose next receive port fails to open (a vanished interface).</summary>
    public HashSet<string> FailingReceivers { get; } = new();

    private sealed class Links(FakePlatform p) : ILinks
    {
        public LinkFacts Read(string name)
        {
            if (p._links.TryGetValue(name, out var i)) return new LinkFacts(name, p.IfIndex(name), i.Mac, i.Mtu, i.Address, i.Address6);
            if (p.Taps.FirstOrDefault(t => t.Name == name) is not null) return new LinkFacts(name, p.IfIndex(name), p.TapMac, 1500, 0);
            throw new InvalidOperationException($"interface {name} does not exist");
        }
    }

    private readonly Dictionary<string, int> _ifIndexes = new();

    private int IfIndex(string name)
    {
        lock (_ifIndexes)
        {
            if (!_ifIndexes.TryGetValue(name, out var index)) _ifIndexes[name] = index = _nextIfIndex++;
            return index;
        }
    }

    private sealed class Frames(FakePlatform p) : IFramePorts
    {
        public IReceivePort OpenReceiver(string interfaceName, int interfaceIndex, int? fanoutGroup, FanoutKey fanoutKey, PortOwner owner)
        {
            if (p.FailingReceivers.Contains(interfaceName)) throw new InvalidOperationException($"interface {interfaceName} does not exist");
            var port = new FakeReceivePort(interfaceName, interfaceIndex, fanoutGroup, fanoutKey);
            p.Receivers.Add(port);
            return port;
        }

        public IFrameTransmitter OpenTransmitter(string interfaceName, IReceivePort? reader, PortOwner owner)
        {
            var t = new InMemoryTransmitter();
            p.Transmitters.Add((interfaceName, t));
            return t;
        }
    }

    private sealed class Drops(FakePlatform p) : IIngressDrops
    {
        public IDisposable Install(string interfaceName, IReadOnlyCollection<uint> vips, IReadOnlyCollection<UInt128> vips6, IReadOnlyCollection<ReplyFilter> replies,
            uint localAddress, UInt128 localAddress6)
        {
            var drop = new FakeIngressDrop(interfaceName, vips.ToArray(), replies.ToArray(), localAddress) { Vips6 = vips6.ToArray(), LocalAddress6 = localAddress6 };
            p.IngressDrops.Add(drop);
            return drop;
        }

        public string Describe(string interfaceName) => $"fake drop {interfaceName}";
    }

    private sealed class TapFactory(FakePlatform p) : IReinjectDevices
    {
        public IReinjectDevice Create(string name, bool ipv6)
        {
            var tap = new FakeTap(name) { Ipv6 = ipv6 };
            p.Taps.Add(tap);
            return tap;
        }
    }

    private sealed class ArpFactory(FakePlatform p) : IArpSockets
    {
        public ILinkSocket Open(string interfaceName)
        {
            var socket = new FakeLinkSocket(interfaceName);
            p.ArpSockets.Add(socket);
            return socket;
        }
    }

    private sealed class NeighborDiscoveryFactory(FakePlatform p) : INeighborDiscoverySockets
    {
        public ILinkSocket Open(string interfaceName)
        {
            var socket = new FakeLinkSocket(interfaceName);
            p.NeighborDiscoverySockets.Add(socket);
            return socket;
        }
    }

    private sealed class HeartbeatFactory(FakePlatform p) : IHeartbeats
    {
        public IDisposable Listen(IPAddress address, int port)
        {
            var listener = new FakeListener(address, port);
            p.Heartbeats.Add(listener);
            return listener;
        }
    }

    /// <summary>Interfaces claimed by engines on this platform and not yet released: a second engine built on the same
    /// platform is refused, as a second process is by the kernel.</summary>
    public HashSet<string> Claimed { get; } = new();

    private sealed class ClaimFactory(FakePlatform p) : IInterfaceClaims
    {
        public IDisposable? TryClaim(string interfaceName)
        {
            lock (p.Claimed)
                if (!p.Claimed.Add(interfaceName)) return null;
            return new Release(p, interfaceName);
        }

        private sealed class Release(FakePlatform p, string interfaceName) : IDisposable
        {
            public void Dispose()
            {
                lock (p.Claimed) p.Claimed.Remove(interfaceName);
            }
        }
    }

    private sealed class RouteFactory(FakePlatform p) : IRouteTables
    {
        public IAnnouncedRoutes Open(int table)
        {
            var routes = new FakeAnnouncedRoutes(table);
            lock (p.RouteTables) p.RouteTables.Add(routes);
            return routes;
        }
    }

    private sealed class SyncFactory(FakePlatform p) : ISyncSockets
    {
        public ISyncSocket Open(IPAddress peer, int port, string? interfaceName)
        {
            var socket = new FakeSyncSocket(peer, port, interfaceName);
            lock (p.SyncSockets) p.SyncSockets.Add(socket);
            return socket;
        }
    }

    private sealed class Cpus(FakePlatform p) : ICpus
    {
        public void PinCurrentThread(int cpu) => p.PinnedCpus.Enqueue(cpu);
    }
}

/// <summary>A receive port over memory, with what the engine asked of it.</summary>
public sealed class FakeReceivePort(string name, int interfaceIndex, int? fanoutGroup, FanoutKey fanoutKey) : IReceivePort
{
    public InMemoryFramePort Port { get; } = new(name);
    public string Name => Port.Name;
    public int InterfaceIndex { get; } = interfaceIndex;
    public int? FanoutGroup { get; } = fanoutGroup;
    public FanoutKey FanoutKey { get; } = fanoutKey;
    public List<MacAddress> Joined { get; } = new();
    public bool Disposed { get; private set; }
    public long KernelDrops { get; set; }
    /// <summary>Thrown by the next poll (a ring that failed under the worker).</summary>
    public Exception? FailNextPoll { get => _fail; set => _fail = value; }
    public void JoinMulticast(MacAddress mac) => Joined.Add(mac);

    public int Poll(IFrameHandler handler, int timeoutMs)
    {
        if (Interlocked.Exchange(ref _fail, null) is { } failure) throw failure;
        return Port.Poll(handler, timeoutMs);
    }

    private Exception? _fail;

    /// <summary>A frame as it would arrive on this interface (the port stamps its interface, as a ring does).</summary>
    public void Arrive(byte[] frame, FrameMeta meta = default)
    {
        meta.IngressInterface = InterfaceIndex;
        Port.Enqueue(frame, meta);
    }

    public void Dispose() => Disposed = true;
}

public sealed record FakeIngressDrop(string Interface, uint[] Vips, ReplyFilter[] Replies, uint LocalAddress) : IDisposable
{
    public UInt128[] Vips6 { get; init; } = [];
    public UInt128 LocalAddress6 { get; init; }
    public bool Removed { get; private set; }
    public void Dispose() => Removed = true;
}

public sealed class FakeTap(string name) : IReinjectDevice
{
    public string Name { get; } = name;
    /// <summary>Whether the engine asked for the device to take IPv6 (an IPv6 CLUSTERIP service).</summary>
    public bool Ipv6 { get; init; }
    public InMemoryTransmitter Frames { get; } = new();
    public bool Disposed { get; private set; }
    public void Enqueue(Span<byte> frame, in FrameMeta meta) => Frames.Enqueue(frame, meta);
    public int Flush() => Frames.Flush();
    public void Dispose() => Disposed = true;
}

/// <summary>An ARP or neighbour discovery socket: what the engine sends is recorded, what a test queues is received.</summary>
public sealed class FakeLinkSocket(string interfaceName) : ILinkSocket
{
    private readonly BlockingCollection<byte[]> _incoming = new();
    public string InterfaceName { get; } = interfaceName;
    public ConcurrentQueue<byte[]> Sent { get; } = new();
    public List<MacAddress> Joined { get; } = new();
    public bool Disposed { get; private set; }

    public void Arrive(byte[] frame) => _incoming.Add(frame);

    public int Receive(Span<byte> buffer, int timeoutMs)
    {
        if (!_incoming.TryTake(out var frame, timeoutMs)) return 0;
        frame.CopyTo(buffer);
        return frame.Length;
    }

    public bool Send(ReadOnlySpan<byte> frame)
    {
        Sent.Enqueue(frame.ToArray());
        return true;
    }

    /// <summary>Locks <see cref="Joined"/>: a neighbour discovery thread joins groups while the engine runs.</summary>
    public void JoinMulticast(MacAddress mac)
    {
        lock (Joined) Joined.Add(mac);
    }

    public void Dispose() => Disposed = true;
}

public sealed record FakeListener(IPAddress Address, int Port) : IDisposable
{
    public bool Closed { get; private set; }
    public void Dispose() => Closed = true;
}

/// <summary>A sync socket without a network: what the engine sends is queued in <see cref="Sent"/>, and what a test
/// <see cref="Deliver"/>s (from whichever source address it likes) is what the engine receives. <see cref="Wire"/>
/// joins two engines' sockets as if they were peers.</summary>
public sealed class FakeSyncSocket(IPAddress peer, int port, string? interfaceName) : ISyncSocket
{
    private readonly System.Collections.Concurrent.BlockingCollection<(byte[] Message, uint Source)> _incoming = new();
    private FakeSyncSocket? _wired;
    private uint _wiredSource;

    public IPAddress Peer { get; } = peer;
    public int Port { get; } = port;
    public string? InterfaceName { get; } = interfaceName;
    public ConcurrentQueue<byte[]> Sent { get; } = new();
    public bool Disposed { get; private set; }

    /// <summary>From now on what this socket sends arrives at <paramref name="other"/> from <paramref name="source"/>.</summary>
    public void Wire(FakeSyncSocket other, uint source)
    {
        _wiredSource = source;
        Volatile.Write(ref _wired, other);
    }

    public void Deliver(byte[] message, uint source) => _incoming.Add((message, source));

    public bool Send(ReadOnlySpan<byte> message)
    {
        var copy = message.ToArray();
        Sent.Enqueue(copy);
        Volatile.Read(ref _wired)?.Deliver(copy, _wiredSource);
        return true;
    }

    public int Receive(Span<byte> buffer, int timeoutMs, out uint source)
    {
        source = 0;
        if (!_incoming.TryTake(out var m, timeoutMs)) return 0;
        source = m.Source;
        var n = Math.Min(m.Message.Length, buffer.Length);
        m.Message.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public void Dispose() => Disposed = true;
}

/// <summary>An announced-route table without a kernel: the VIPs present, and whether it was closed (as the process's
/// death would close the real one).</summary>
public sealed class FakeAnnouncedRoutes(int table) : IAnnouncedRoutes
{
    private readonly HashSet<uint> _vips = new();

    public int Table { get; } = table;
    public string Device => $"lbr{Table}";
    public bool Disposed { get; private set; }
    public uint[] Vips { get { lock (_vips) return [.. _vips]; } }

    public void Add(uint vip) { lock (_vips) _vips.Add(vip); }
    public void Remove(uint vip) { lock (_vips) _vips.Remove(vip); }
    public void Dispose() => Disposed = true;
}
