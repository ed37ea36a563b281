using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Core.Scheduling;

namespace LoadBalancer.Core.Forwarding;

/// <summary>The per-packet path of one worker: parse, find the service, decide the backend (flow table,
/// else Maglev), let the service's forwarder rewrite, finish partial checksums. Allocates nothing, takes
/// no locks and never throws on frame content: every refusal is a counted <see cref="DropReason"/>.
/// Frames that are not for a configured service get <see cref="Verdict.Pass"/> and are left to the kernel.</summary>
public sealed class PacketProcessor
{
    private readonly DataPlaneState _state;
    private readonly NeighborTable _neighbors;
    private readonly FlowTable _flows;
    private readonly InterfacePlan _interfaces;

    public PacketProcessor(DataPlaneState state, NeighborTable neighbors, FlowTable flows, InterfacePlan interfaces, WorkerCounters counters,
        NatSessionTable sessions)
    {
        _state = state;
        _neighbors = neighbors;
        _flows = flows;
        _interfaces = interfaces;
        Counters = counters;
        Sessions = sessions;
    }

    public WorkerCounters Counters { get; }
    public FlowTable Flows => _flows;
    public NatSessionTable Sessions { get; }

    public Verdict Process(Span<byte> frame, ref FrameMeta meta, long nowMs)
    {
        var c = Counters;
        c.RxFrames++;
        // Our own transmissions (and the host's) show up on an ETH_P_ALL socket; never forward them again.
        if (meta.PacketType == PacketType.Outgoing) return Pass(c);

        var reason = EthernetFrame.TryParse(frame, out var eth);
        if (reason != DropReason.None) return Drop(c, reason);
        if (eth.EtherType != EtherTypes.Ipv4) return Pass(c);

        var snapshot = _state.Current;
        reason = Ipv4Packet.TryParse(eth.Payload, out var ip);
        if (reason != DropReason.None)
            return Malformed(c, snapshot, eth.Payload, meta.Truncated && reason == DropReason.Ipv4Truncated ? DropReason.RingTruncated : reason);

        var toVip = snapshot.IsVip(ip.Destination);
        // A frame not for a VIP is ours only if it may be a NAT reply (it arrived where NAT backends answer).
        if (!toVip && !snapshot.IsNatBackendPort(meta.IngressPort)) return Pass(c);
        if (meta.Truncated) return Drop(c, DropReason.RingTruncated);
        // Later fragments carry no ports, so they cannot be hashed like the first; we drop them all
        // rather than send pieces of one datagram to different backends.
        if (ip.IsFragment) return toVip ? Drop(c, DropReason.Ipv4Fragment) : Pass(c);

        ushort sourcePort, destinationPort;
        var tcpFlags = TcpFlags.None;
        int checksumOffset, l4HeaderLength;
        switch (ip.Protocol)
        {
            case IpProtocols.Tcp:
                reason = TcpSegment.TryParse(ip.Payload, out var tcp);
                if (reason != DropReason.None) return toVip ? Drop(c, reason) : Pass(c);
                sourcePort = tcp.SourcePort;
                destinationPort = tcp.DestinationPort;
                tcpFlags = tcp.Flags;
                checksumOffset = TcpSegment.ChecksumOffset;
                l4HeaderLength = tcp.HeaderLength;
                break;
            case IpProtocols.Udp:
                reason = UdpDatagram.TryParse(ip.Payload, out var udp);
                if (reason != DropReason.None) return toVip ? Drop(c, reason) : Pass(c);
                sourcePort = udp.SourcePort;
                destinationPort = udp.DestinationPort;
                checksumOffset = UdpDatagram.ChecksumOffset;
                l4HeaderLength = UdpDatagram.HeaderLength;
                break;
            case IpProtocols.Icmp when snapshot.NatBackendPorts != 0:
                return NatIcmpError(frame, ref meta, eth.PayloadOffset, ip.HeaderLength, ip.TotalLength, ip.Source, ip.Destination, toVip, snapshot, nowMs);
            default:
                return Pass(c);
        }

        var isTcp = ip.Protocol == IpProtocols.Tcp;
        var l4Offset = eth.PayloadOffset + ip.HeaderLength;
        var datagramEnd = eth.PayloadOffset + ip.TotalLength;

        if (!toVip)
        {
            var replyKey = new FlowKey(ip.Protocol, ip.Source, ip.Destination, sourcePort, destinationPort);
            ref var session = ref Sessions.FindReverse(replyKey, FlowHash.Compute(replyKey, snapshot.HashSeed), nowMs);
            if (Unsafe.IsNullRef(ref session))
            {
                // The balancer's own conversations (health checks) are not "replies without a session".
                if (ip.Destination != _interfaces.Address(meta.IngressPort)) c.NatRepliesWithoutSession++;
                return Pass(c);
            }
            // NAT updates checksums incrementally, which would carry a bad header checksum along unnoticed.
            if (!ip.HeaderChecksumValid) return Drop(c, DropReason.Ipv4BadChecksum);
            return NatReply(frame, ref meta, ref session, snapshot, eth.PayloadOffset, l4Offset, datagramEnd, ip.Protocol, checksumOffset, tcpFlags, nowMs);
        }

        var service = snapshot.FindService(ip.Destination, ip.Protocol, destinationPort);
        if (service is null) return Pass(c);

        var key = new FlowKey(ip.Protocol, ip.Source, ip.Destination, sourcePort, destinationPort);
        var hash = FlowHash.Compute(key, snapshot.HashSeed);
        var isNewSyn = isTcp && (tcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;
        var packet = new PacketInfo(eth.PayloadOffset, l4Offset, ip.Protocol, meta.Vnet.IsGso && meta.Vnet.NeedsChecksum);

        if (service.Mode == ForwardingMode.ClusterIp)
            return ClusterIp(frame, ref meta, service, key, hash, isTcp, isNewSyn, tcpFlags, l4Offset, checksumOffset, datagramEnd, snapshot.HashSeed, nowMs);

        BackendSnapshot? backend;
        if (service.Mode == ForwardingMode.Nat)
        {
            if (!ip.HeaderChecksumValid) return Drop(c, DropReason.Ipv4BadChecksum);
            reason = NatSessionFor(service, key, hash, isTcp, isNewSyn, tcpFlags, eth.Source, snapshot.HashSeed, nowMs, out backend);
            if (reason != DropReason.None) return Drop(c, reason);
        }
        else
        {
            reason = FlowFor(service, key, hash, isTcp, isNewSyn, tcpFlags, nowMs, out backend);
            if (reason != DropReason.None) return Drop(c, reason);
        }

        var mac = _neighbors.Mac(backend!.NeighborIndex);
        if (mac.IsZero) return Drop(c, DropReason.BackendMacUnresolved);

        if (service.Mode == ForwardingMode.Nat)
        {
            // The balancer is a router hop in NAT: what does not fit the backend side is answered, not lost.
            var l3Length = meta.Vnet.IsGso ? ip.HeaderLength + l4HeaderLength + meta.Vnet.GsoSize : ip.TotalLength;
            var mtu = _interfaces.Mtu(service.EgressPort);
            if (l3Length > mtu) return FragmentationNeeded(frame, ref meta, eth.PayloadOffset, ip.HeaderLength, ip.DontFragment || meta.Vnet.IsGso, mtu, service);
        }
        if (!CompleteChecksum(frame, ref meta, l4Offset, checksumOffset, datagramEnd, isTcp)) return Drop(c, DropReason.ChecksumOffsetInvalid);

        reason = service.Forwarder!.Rewrite(frame, packet, backend, mac, _interfaces.Mac(service.EgressPort));
        if (reason != DropReason.None) return Drop(c, reason);

        return Transmitted(ref meta, service.EgressPort, service.Index, backend.Id, frame.Length);
    }

    /// <summary>DR: the flow's backend from the flow table, else from Maglev (and remembered).</summary>
    private DropReason FlowFor(ServiceSnapshot service, in FlowKey key, uint hash, bool isTcp, bool isNewSyn, TcpFlags tcpFlags, long nowMs,
        out BackendSnapshot? backend)
    {
        var c = Counters;
        backend = null;
        ref var flow = ref _flows.Find(key, hash, nowMs);
        if (!Unsafe.IsNullRef(ref flow))
        {
            // A flow keeps its backend across table changes unless the backend left the service.
            // A fresh SYN on a closing flow is a new connection reusing the 5-tuple: decide again.
            if (!(isNewSyn && flow.State == FlowState.TcpClosing))
                backend = service.BackendById(flow.BackendId);
            if (backend is { IsDown: true })
            {
                switch (service.OnBackendDown)
                {
                    case BackendDownAction.Drop:
                        return DropReason.BackendDown;
                    case BackendDownAction.Reassign:
                        backend = null; // decided again below, from a table that no longer holds it
                        break;
                }
            }
        }

        if (backend is null)
        {
            var slot = service.Table.Lookup(hash);
            if (slot < 0) return DropReason.NoBackend;
            backend = service.Backends[slot];
            // Remember nothing for a packet we cannot deliver: the retransmit decides again.
            if (_neighbors.Mac(backend.NeighborIndex).IsZero) return DropReason.BackendMacUnresolved;
            var state = FlowTable.InitialState(isTcp, tcpFlags);
            if (Unsafe.IsNullRef(ref flow))
                flow = ref _flows.Insert(key, hash, backend.Id, state, nowMs);
            else
            {
                flow.BackendId = backend.Id;
                flow.State = state;
            }
            c.ServiceFlows[service.Index]++;
            c.BackendFlows[backend.Id]++;
        }
        else
        {
            flow.State = FlowTable.Advance(flow.State, isTcp, tcpFlags);
        }
        flow.LastSeenMs = nowMs;
        return DropReason.None;
    }

    /// <summary>CLUSTERIP: accept (re-inject through the TAP) or refuse a frame every node received.
    /// A flow this node accepted before stays accepted, whatever the table says now, so a membership change
    /// never breaks it. Otherwise the node accepts a flow whose bucket it owns, except while a transition lasts:
    /// after a membership change a TCP flow it does not remember only from a SYN (any bucket), and UDP only in a
    /// bucket no other live node held within the UDP timeout. Everything else is <c>not_owner</c>.</summary>
    private Verdict ClusterIp(Span<byte> frame, ref FrameMeta meta, ServiceSnapshot service, in FlowKey key, uint flowHash, bool isTcp, bool isNewSyn,
        TcpFlags tcpFlags, int l4Offset, int checksumOffset, int datagramEnd, uint seed, long nowMs)
    {
        var c = Counters;
        if (service.ReinjectPort < 0 || service.Cluster is null) return Drop(c, DropReason.NoBackend);
        ref var flow = ref _flows.Find(key, flowHash, nowMs);
        if (Unsafe.IsNullRef(ref flow) || (isNewSyn && flow.State == FlowState.TcpClosing)
            || (!isTcp && flow.LastSeenMs < service.ClusterRejoinedAtMs))
        {
            // A node in the minority may be the one cut off: it serves what it remembers and takes nothing new.
            if (!service.ClusterHasQuorum) return Drop(c, DropReason.NotOwner);
            var h = ClusterFlowHash.Compute(service.ClusterHash, key.SourceAddress, key.SourcePort, key.DestinationPort, seed);
            if (service.Cluster.OwnerOf(h) != service.LocalNode) return Drop(c, DropReason.NotOwner);
            // After a change (or a cold start, or coming back): a TCP flow we do not remember may be someone
            // else's, whichever bucket it hashes to; its owner remembers it, and a new one starts with a SYN.
            if (isTcp && !isNewSyn && nowMs - service.ClusterChangedAtMs < service.ClusterTcpTransitionMs) return Drop(c, DropReason.NotOwner);
            // UDP has no SYN: a bucket another live node held lately may carry that node's flows until they time out.
            if (!isTcp && service.ClusterBuckets is { } buckets && buckets.HeldByLiveNode(h, service.Cluster, nowMs, service.ClusterUdpTransitionMs))
                return Drop(c, DropReason.NotOwner);
            var state = FlowTable.InitialState(isTcp, tcpFlags);
            if (Unsafe.IsNullRef(ref flow)) flow = ref _flows.Insert(key, flowHash, service.LocalNode, state, nowMs);
            else flow.State = state;
            c.ServiceFlows[service.Index]++;
        }
        else
        {
            flow.State = FlowTable.Advance(flow.State, isTcp, tcpFlags);
        }
        flow.LastSeenMs = nowMs;

        if (!CompleteChecksum(frame, ref meta, l4Offset, checksumOffset, datagramEnd, isTcp)) return Drop(c, DropReason.ChecksumOffsetInvalid);
        // Only the Ethernet destination changes, to the TAP's own MAC: the local stack takes a frame to the
        // multicast cluster MAC as not PACKET_HOST, and TCP would drop it. The IP packet is untouched.
        _interfaces.Mac(service.ReinjectPort).Write(frame);
        return Transmitted(ref meta, service.ReinjectPort, service.Index, backendId: -1, frame.Length);
    }

    /// <summary>NAT, client side: the session's backend, or a new session (TCP: only on a SYN unless the
    /// service picks up mid-stream flows). A session whose backend died is dropped under
    /// <c>on_backend_down: reassign</c>, so the client's next SYN opens one to another backend.</summary>
    private DropReason NatSessionFor(ServiceSnapshot service, in FlowKey key, uint hash, bool isTcp, bool isNewSyn, TcpFlags tcpFlags,
        MacAddress clientHop, uint seed, long nowMs, out BackendSnapshot? backend)
    {
        var c = Counters;
        backend = null;
        ref var session = ref Sessions.FindForward(key, hash, nowMs);
        if (!Unsafe.IsNullRef(ref session))
        {
            backend = service.BackendById(session.BackendId);
            if (backend is null || (isNewSyn && session.State == FlowState.TcpClosing))
            {
                Sessions.Remove(ref session);
                session = ref Unsafe.NullRef<NatSession>();
                backend = null;
            }
            else if (backend.IsDown && service.OnBackendDown != BackendDownAction.Keep)
            {
                if (service.OnBackendDown == BackendDownAction.Reassign) Sessions.Remove(ref session);
                return DropReason.BackendDown;
            }
        }

        if (Unsafe.IsNullRef(ref session))
        {
            if (isTcp && !isNewSyn && !service.TcpPickup) return DropReason.NatNoSession;
            var slot = service.Table.Lookup(hash);
            if (slot < 0) return DropReason.NoBackend;
            backend = service.Backends[slot];
            if (_neighbors.Mac(backend.NeighborIndex).IsZero) return DropReason.BackendMacUnresolved;
            var reply = new FlowKey(key.Protocol, backend.Address, key.SourceAddress, backend.Port, key.SourcePort);
            var state = FlowTable.InitialState(isTcp, tcpFlags);
            session = ref Sessions.Create(key, hash, reply, FlowHash.Compute(reply, seed), service.Index, backend.Id,
                clientHop, state, service.SessionTimeouts, nowMs);
            if (Unsafe.IsNullRef(ref session)) return DropReason.SessionTableFull;
            c.ServiceFlows[service.Index]++;
            c.BackendFlows[backend.Id]++;
        }
        else
        {
            session.State = FlowTable.Advance(session.State, isTcp, tcpFlags);
        }
        session.LastSeenMs = nowMs;
        session.ClientHop = clientHop;
        return DropReason.None;
    }

    /// <summary>NAT, backend side: a reply in a session becomes VIP:port → client again and leaves on the
    /// service's client-side interface, to the configured gateway or to the hop the client's frames came from.</summary>
    private Verdict NatReply(Span<byte> frame, ref FrameMeta meta, ref NatSession session, DataPlaneSnapshot snapshot, int ipOffset, int l4Offset,
        int datagramEnd, byte protocol, int checksumOffset, TcpFlags tcpFlags, long nowMs)
    {
        var c = Counters;
        var service = snapshot.Services[session.ServiceIndex];
        var backend = service.BackendById(session.BackendId);
        var isTcp = protocol == IpProtocols.Tcp;
        if (backend is { IsDown: true } && service.OnBackendDown == BackendDownAction.Drop) return Drop(c, DropReason.BackendDown);

        var nextHop = ReplyNextHop(service, session);
        if (nextHop.IsZero) return Drop(c, DropReason.BackendMacUnresolved);

        var packet = new PacketInfo(ipOffset, l4Offset, protocol, meta.Vnet.IsGso && meta.Vnet.NeedsChecksum);
        if (!CompleteChecksum(frame, ref meta, l4Offset, checksumOffset, datagramEnd, isTcp)) return Drop(c, DropReason.ChecksumOffsetInvalid);
        if (!NatRewriter.DecrementTtl(frame, packet)) return Drop(c, DropReason.TtlExpired);
        NatRewriter.RewriteSource(frame, packet, session.Forward.DestinationAddress, session.Forward.DestinationPort);
        nextHop.Write(frame);
        _interfaces.Mac(service.IngressPort).Write(frame[6..]);

        if (isTcp && (tcpFlags & (TcpFlags.Fin | TcpFlags.Rst)) != 0) session.State = FlowState.TcpClosing;
        session.LastSeenMs = nowMs;
        return Transmitted(ref meta, service.IngressPort, service.Index, session.BackendId, frame.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Verdict Transmitted(ref FrameMeta meta, int egressPort, int serviceIndex, int backendId, int length)
    {
        var c = Counters;
        meta.EgressPort = egressPort;
        c.ServicePackets[serviceIndex]++;
        c.ServiceBytes[serviceIndex] += length;
        if (backendId >= 0)
        {
            c.BackendPackets[backendId]++;
            c.BackendBytes[backendId] += length;
        }
        return Verdict.Transmit;
    }

    /// <summary>Where a NAT reply goes on the client side: the configured gateway (zero while unresolved),
    /// else the hop the client's frames came from.</summary>
    private MacAddress ReplyNextHop(ServiceSnapshot service, in NatSession session) =>
        service.GatewayNeighborIndex >= 0 ? _neighbors.Mac(service.GatewayNeighborIndex) : session.ClientHop;

    /// <summary>NAT, an ICMP error about a session. From the client side (to the VIP) it quotes a reply we
    /// sent as VIP:port and goes on to the backend; from the backend side it quotes a packet we sent to the
    /// backend and goes back to the client as if the VIP had sent it. Other ICMP is left to the kernel.</summary>
    private Verdict NatIcmpError(Span<byte> frame, ref FrameMeta meta, int ipOffset, int ipHeaderLength, int totalLength, uint source, uint destination,
        bool toVip, DataPlaneSnapshot snapshot, long nowMs)
    {
        var c = Counters;
        var icmpOffset = ipOffset + ipHeaderLength;
        var end = ipOffset + totalLength;
        if (IcmpMessage.TryParse(frame[icmpOffset..end], out var icmp) != DropReason.None) return toVip ? Drop(c, DropReason.IcmpTruncated) : Pass(c);
        // Redirects (type 5) are errors too, but name no session to translate: they are left to the kernel.
        if (!icmp.IsError || icmp.Type == 5) return Pass(c);
        if (!NatIcmp.TryReadQuote(frame, icmpOffset, end, out var q)) return toVip ? Drop(c, DropReason.IcmpTruncated) : Pass(c);
        var packet = new PacketInfo(ipOffset, icmpOffset, IpProtocols.Icmp, PartialChecksum: false);

        if (toVip)
        {
            var key = new FlowKey(q.Protocol, q.Destination, q.Source, q.DestinationPort, q.SourcePort);
            ref var session = ref Sessions.FindForward(key, FlowHash.Compute(key, snapshot.HashSeed), nowMs);
            if (Unsafe.IsNullRef(ref session)) return Drop(c, DropReason.NatNoSession);
            var service = snapshot.Services[session.ServiceIndex];
            var backend = service.BackendById(session.BackendId);
            if (backend is null) return Drop(c, DropReason.NoBackend);
            var mac = _neighbors.Mac(backend.NeighborIndex);
            if (mac.IsZero) return Drop(c, DropReason.BackendMacUnresolved);
            if (!NatRewriter.DecrementTtl(frame, packet)) return Drop(c, DropReason.TtlExpired);
            NatIcmp.Translate(frame, ipOffset, icmpOffset, q, quotedSource: true, backend.Address, backend.Port,
                outerSource: false, destination == session.Forward.DestinationAddress ? backend.Address : null);
            mac.Write(frame);
            _interfaces.Mac(service.EgressPort).Write(frame[6..]);
            return Transmitted(ref meta, service.EgressPort, service.Index, backendId: -1, frame.Length);
        }
        else
        {
            var key = new FlowKey(q.Protocol, q.Destination, q.Source, q.DestinationPort, q.SourcePort);
            ref var session = ref Sessions.FindReverse(key, FlowHash.Compute(key, snapshot.HashSeed), nowMs);
            if (Unsafe.IsNullRef(ref session))
            {
                if (destination != _interfaces.Address(meta.IngressPort)) c.NatRepliesWithoutSession++;
                return Pass(c);
            }
            var service = snapshot.Services[session.ServiceIndex];
            var nextHop = ReplyNextHop(service, session);
            if (nextHop.IsZero) return Drop(c, DropReason.BackendMacUnresolved);
            if (!NatRewriter.DecrementTtl(frame, packet)) return Drop(c, DropReason.TtlExpired);
            // An error from the backend itself speaks for the VIP; one from a router behind it keeps its source.
            NatIcmp.Translate(frame, ipOffset, icmpOffset, q, quotedSource: false, session.Forward.DestinationAddress, session.Forward.DestinationPort,
                outerSource: true, source == session.Reverse.SourceAddress ? session.Forward.DestinationAddress : null);
            nextHop.Write(frame);
            _interfaces.Mac(service.IngressPort).Write(frame[6..]);
            return Transmitted(ref meta, service.IngressPort, service.Index, backendId: -1, frame.Length);
        }
    }

    /// <summary>Turns an oversized frame into ICMP fragmentation-needed (type 3, code 4, next-hop MTU) back
    /// to the client, built in place: the original IP header and first 8 bytes of its payload are quoted as
    /// the client sent them (to the VIP), the source is our client-side address. Without DF there is nothing
    /// to ask for, and we do not fragment: the frame is dropped. Either way it counts as <c>mtu_exceeded</c>.</summary>
    private Verdict FragmentationNeeded(Span<byte> frame, ref FrameMeta meta, int ipOffset, int ipHeaderLength, bool dontFragment, int mtu,
        ServiceSnapshot service)
    {
        var c = Counters;
        c.Drop(DropReason.MtuExceeded);
        if (!dontFragment) return Verdict.Drop;
        var quoteLength = ipHeaderLength + 8;
        Span<byte> quote = stackalloc byte[60 + 8];
        frame.Slice(ipOffset, quoteLength).CopyTo(quote);
        var clientHop = MacAddress.Read(frame[6..]);
        var client = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(quote[12..]);
        var source = _interfaces.Address(service.IngressPort);
        if (source == 0) source = service.Vip;

        var total = Ipv4Packet.MinimumHeaderLength + IcmpMessage.HeaderLength + quoteLength;
        clientHop.Write(frame);
        _interfaces.Mac(service.IngressPort).Write(frame[6..]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypes.Ipv4);
        var ip = frame.Slice(EthernetFrame.HeaderLength, total);
        ip.Clear();
        ip[0] = 0x45;
        ip[1] = 0xC0; // internetwork control, as routers send ICMP errors
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)total);
        ip[8] = 64;
        ip[9] = IpProtocols.Icmp;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ip[12..], source);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ip[16..], client);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..Ipv4Packet.MinimumHeaderLength]));
        var icmp = ip[Ipv4Packet.MinimumHeaderLength..];
        icmp[0] = 3;
        icmp[1] = 4;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)mtu);
        quote[..quoteLength].CopyTo(icmp[IcmpMessage.HeaderLength..]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));

        meta.TransmitLength = EthernetFrame.HeaderLength + total;
        meta.Vnet = default;
        meta.ChecksumNotReady = false;
        meta.EgressPort = service.IngressPort;
        c.IcmpSent++;
        return Verdict.Transmit;
    }

    /// <summary>Completes a checksum the sender left partial, unless the frame leaves as GSO (then the
    /// kernel completes it per segment, from the virtio-net header we keep).</summary>
    private static bool CompleteChecksum(Span<byte> frame, ref FrameMeta meta, int l4Offset, int checksumOffset, int datagramEnd, bool isTcp)
    {
        if (!(meta.ChecksumNotReady || meta.Vnet.NeedsChecksum) || meta.Vnet.IsGso) return true;
        int start, offset;
        if (meta.Vnet.NeedsChecksum)
        {
            start = meta.Vnet.ChecksumStart;
            offset = meta.Vnet.ChecksumOffset;
        }
        else
        {
            start = l4Offset;
            offset = checksumOffset;
        }
        if (!Checksum.CompletePartial(frame[..datagramEnd], start, offset, !isTcp)) return false;
        meta.Vnet.Flags &= unchecked((byte)~VnetHeader.FlagNeedsChecksum);
        meta.ChecksumNotReady = false;
        return true;
    }

    /// <summary>An IPv4 header we cannot use. If its destination is readable and not a VIP it is not our
    /// business (the kernel judges other hosts' traffic, e.g. BIG TCP frames with total length 0); otherwise
    /// it is dropped and counted under <paramref name="reason"/>.</summary>
    private static Verdict Malformed(WorkerCounters c, DataPlaneSnapshot snapshot, Span<byte> ipBytes, DropReason reason)
    {
        if (ipBytes.Length >= Ipv4Packet.MinimumHeaderLength
            && !snapshot.IsVip(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ipBytes[16..])))
            return Pass(c);
        return Drop(c, reason);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Verdict Pass(WorkerCounters c)
    {
        c.Passed++;
        return Verdict.Pass;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Verdict Drop(WorkerCounters c, DropReason reason)
    {
        c.Drop(reason);
        return Verdict.Drop;
    }
}
