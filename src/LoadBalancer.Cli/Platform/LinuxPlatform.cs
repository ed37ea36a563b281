using System.Net;
using LoadBalancer.Cli.RealServer;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Hosting;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting.Platform;
using LoadBalancer.Linux.Kernel;
using LoadBalancer.Linux.Packet;
using LoadBalancer.Linux.Sockets;

namespace LoadBalancer.Cli.Platform;

/// <summary>The engine's platform on Linux: AF_PACKET rings and TX rings, nftables ingress drops, a TAP for
/// re-injection, ARP and neighbour discovery sockets, TCP heartbeat listeners, CPU pinning, the HA sync socket and announced routes, each from LoadBalancer.Linux (the only
/// unsafe code) or the system's tools. Needs CAP_NET_RAW and CAP_NET_ADMIN.</summary>
internal static class LinuxPlatform
{
    public static EnginePlatform Create() => Create(new Frames(), new IngressDrops());

    /// <summary>The platform for <paramref name="config"/>'s <c>io:</c>: AF_PACKET rings with nftables ingress drops, or
    /// AF_XDP sockets with the VIPs in an XDP program's map (<see cref="XdpFrames"/>); <c>auto</c> decides here, once
    /// (<see cref="XdpChoice"/>).</summary>
    public static EnginePlatform Create(BalancerConfig config, EngineLog log)
    {
        if (!XdpChoice.UseXdp(config, log)) return Create();
        var xdp = new XdpFrames(config.Xdp, config.Cpus, log);
        return Create(xdp, xdp);
    }

    private static EnginePlatform Create(IFramePorts frames, IIngressDrops drops) =>
        new(new Links(), frames, drops, new Taps(), new ArpSockets(), new Heartbeats(), new Cpus(), new SyncSockets(), new RouteTables(), new Claims(), new NeighborDiscoverySockets());

    private sealed class Links : ILinks
    {
        public LinkFacts Read(string name)
        {
            var link = LinkInfo.Read(name);
            return new LinkFacts(link.Name, link.IfIndex, link.Mac, link.Mtu, link.Ipv4Address, link.Ipv6Address);
        }
    }

    private sealed class Frames : IFramePorts
    {
        private static readonly RingOptions Ring = new();

        public IReceivePort OpenReceiver(string interfaceName, int interfaceIndex, int? fanoutGroup, FanoutKey fanoutKey, PortOwner owner) =>
            new Receiver(AfPacketPort.Open(interfaceName, interfaceIndex, fanoutGroup is { } group ? Ring with { FanoutGroup = group, FanoutKey = fanoutKey } : Ring));

        public IFrameTransmitter OpenTransmitter(string interfaceName, IReceivePort? reader, PortOwner owner)
        {
            // Frames too large for a TX ring slot (GSO) leave by sendmmsg, on the reader's own socket when there is one.
            var oversize = reader is Receiver r ? r.Port.Transmitter : AfPacketTransmitter.Open(interfaceName);
            try
            {
                return new OwnedTxRing(AfPacketTxRing.Open(interfaceName, oversize), reader is null ? oversize : null);
            }
            catch
            {
                if (reader is null) oversize.Dispose();
                throw;
            }
        }
    }

    private sealed class Receiver(AfPacketPort port) : IReceivePort
    {
        public AfPacketPort Port { get; } = port;
        public string Name => Port.Name;
        public int Poll(IFrameHandler handler, int timeoutMs) => Port.Poll(handler, timeoutMs);
        public long KernelDrops => Port.KernelDrops;
        public void JoinMulticast(MacAddress mac) => Port.JoinMulticast(mac);
        public void Dispose() => Port.Dispose();
    }

    /// <summary>A TX ring and, when no reader lent one, the sendmmsg socket it falls back to; disposed together.</summary>
    private sealed class OwnedTxRing(AfPacketTxRing ring, AfPacketTransmitter? ownOversize) : IFrameTransmitter, IDisposable
    {
        public void Enqueue(Span<byte> frame, in FrameMeta meta) => ring.Enqueue(frame, meta);
        public int Flush() => ring.Flush();

        public void Dispose()
        {
            ring.Dispose();
            ownOversize?.Dispose();
        }
    }

    private sealed class IngressDrops : IIngressDrops
    {
        public IDisposable Install(string interfaceName, IReadOnlyCollection<uint> vips, IReadOnlyCollection<UInt128> vips6, IReadOnlyCollection<ReplyFilter> replies,
            uint localAddress, UInt128 localAddress6) =>
            IngressDrop.Install(interfaceName, vips, replies.Select(r => new IngressDrop.Reply(r.Address, r.Protocol, r.Port) { Address6 = r.Address6 }).ToArray(),
                localAddress, vips6, localAddress6);

        public string Describe(string interfaceName) => $"nft table netdev {IngressDrop.TableFor(interfaceName)}";
    }

    private sealed class Taps : IReinjectDevices
    {
        public IReinjectDevice Create(string name, bool ipv6)
        {
            var tap = TapDevice.Create(name);
            try
            {
                // Up, and no reverse-path filter on it: re-injected frames come from clients whose route back is
                // through the node's own interface, not the TAP (../shared/LAB.md item 3).
                var system = new SystemNetworkControl();
                system.WriteSysctl(SysctlNames.Ipv4Conf(name, "rp_filter"), "0");
                if (ipv6)
                {
                    // Before the link goes up, so the kernel never starts what these turn off. IPv6 must be on for the
                    // stack to take re-injected IPv6 frames at all (a namespace or host may default it off).
                    system.WriteSysctl(SysctlNames.Ipv6Conf(name, "disable_ipv6"), "0");
                    // Nobody reads what the kernel writes into the TAP: duplicate address detection and router
                    // solicitations for its link-local address would only pile up there, and DAD would leave the
                    // address tentative for a second for nothing.
                    system.WriteSysctl(SysctlNames.Ipv6Conf(name, "accept_dad"), "0");
                    system.WriteSysctl(SysctlNames.Ipv6Conf(name, "router_solicitations"), "0");
                    // Nothing on the TAP is a router: never take a route or an address from it.
                    system.WriteSysctl(SysctlNames.Ipv6Conf(name, "accept_ra"), "0");
                    // A host interface even on a node that routes (a new interface copies default.forwarding, which
                    // all.forwarding sets): the TAP only ever carries frames to this node's own VIP, delivered locally.
                    system.WriteSysctl(SysctlNames.Ipv6Conf(name, "forwarding"), "0");
                }
                system.SetLinkUp(name);
                return new Tap(tap);
            }
            catch
            {
                tap.Dispose();
                throw;
            }
        }
    }

    private sealed class Tap(TapDevice device) : IReinjectDevice
    {
        public string Name => device.Name;
        public void Enqueue(Span<byte> frame, in FrameMeta meta) => device.Enqueue(frame, meta);
        public int Flush() => device.Flush();
        public void Dispose() => device.Dispose();
    }

    private sealed class ArpSockets : IArpSockets
    {
        public ILinkSocket Open(string interfaceName) => new Link(ArpSocket.Open(interfaceName));
    }

    private sealed class NeighborDiscoverySockets : INeighborDiscoverySockets
    {
        public ILinkSocket Open(string interfaceName) => new Link(NeighborDiscoverySocket.Open(interfaceName));
    }

    private sealed class Link(LinkSocket socket) : ILinkSocket
    {
        public string InterfaceName => socket.InterfaceName;
        public int Receive(Span<byte> buffer, int timeoutMs) => socket.Receive(buffer, timeoutMs);
        public bool Send(ReadOnlySpan<byte> frame) => socket.Send(frame);
        public void JoinMulticast(MacAddress mac) => socket.JoinMulticast(mac);
        public void Dispose() => socket.Dispose();
    }

    private sealed class Heartbeats : IHeartbeats
    {
        public IDisposable Listen(IPAddress address, int port) => EngineHeartbeat.Listen(address, port);
    }

    private sealed class Cpus : ICpus
    {
        public void PinCurrentThread(int cpu) => CpuAffinity.PinCurrentThread(cpu);
    }

    private sealed class SyncSockets : ISyncSockets
    {
        public ISyncSocket Open(IPAddress peer, int port, string? interfaceName) => new SyncSocket(PeerSocket.Open(peer, port, interfaceName));
    }

    private sealed class SyncSocket(PeerSocket socket) : ISyncSocket
    {
        public bool Send(ReadOnlySpan<byte> message) => socket.Send(message);
        public int Receive(Span<byte> buffer, int timeoutMs, out uint source) => socket.Receive(buffer, timeoutMs, out source);
        public void Dispose() => socket.Dispose();
    }

    private sealed class Claims : IInterfaceClaims
    {
        public IDisposable? TryClaim(string interfaceName) => InterfaceClaim.TryTake(interfaceName);
    }

    private sealed class RouteTables : IRouteTables
    {
        public IAnnouncedRoutes Open(int table) => new Routes(AnnouncedRoutes.Open(table));
    }

    private sealed class Routes(AnnouncedRoutes routes) : IAnnouncedRoutes
    {
        public string Device => routes.Device;
        public void Add(uint vip) => routes.Add(vip);
        public void Remove(uint vip) => routes.Remove(vip);
        public void Dispose() => routes.Dispose();
    }
}
