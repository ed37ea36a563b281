using System.Runtime.CompilerServices;
using LoadBalancer.Core.Flows;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

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

    public PacketProcessor(DataPlaneState state, NeighborTable neighbors, FlowTable flows, InterfacePlan interfaces, WorkerCounters counters)
    {
        _state = state;
        _neighbors = neighbors;
        _flows = flows;
        _interfaces = interfaces;
        Counters = counters;
    }

    public WorkerCounters Counters { get; }
    public FlowTable Flows => _flows;

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

        if (!snapshot.IsVip(ip.Destination)) return Pass(c);
        if (meta.Truncated) return Drop(c, DropReason.RingTruncated);
        // Later fragments carry no ports, so they cannot be hashed like the first; we drop them all
        // rather than send pieces of one datagram to different backends.
        if (ip.IsFragment) return Drop(c, DropReason.Ipv4Fragment);

        ushort sourcePort, destinationPort;
        var tcpFlags = TcpFlags.None;
        int checksumOffset;
        switch (ip.Protocol)
        {
            case IpProtocols.Tcp:
                reason = TcpSegment.TryParse(ip.Payload, out var tcp);
                if (reason != DropReason.None) return Drop(c, reason);
                sourcePort = tcp.SourcePort;
                destinationPort = tcp.DestinationPort;
                tcpFlags = tcp.Flags;
                checksumOffset = TcpSegment.ChecksumOffset;
                break;
            case IpProtocols.Udp:
                reason = UdpDatagram.TryParse(ip.Payload, out var udp);
                if (reason != DropReason.None) return Drop(c, reason);
                sourcePort = udp.SourcePort;
                destinationPort = udp.DestinationPort;
                checksumOffset = UdpDatagram.ChecksumOffset;
                break;
            default:
                return Pass(c);
        }

        var service = snapshot.FindService(ip.Destination, ip.Protocol, destinationPort);
        if (service is null) return Pass(c);

        var key = new FlowKey(ip.Protocol, ip.Source, ip.Destination, sourcePort, destinationPort);
        var hash = FlowHash.Compute(key, snapshot.HashSeed);
        var isTcp = ip.Protocol == IpProtocols.Tcp;
        var isNewSyn = isTcp && (tcpFlags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;

        BackendSnapshot? backend = null;
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
                        return Drop(c, DropReason.BackendDown);
                    case BackendDownAction.Reassign:
                        backend = null; // decided again below, from a table that no longer holds it
                        break;
                }
            }
        }

        if (backend is null)
        {
            var slot = service.Table.Lookup(hash);
            if (slot < 0) return Drop(c, DropReason.NoBackend);
            backend = service.Backends[slot];
            // Remember nothing for a packet we cannot deliver: the retransmit decides again.
            if (_neighbors.Mac(backend.NeighborIndex).IsZero) return Drop(c, DropReason.BackendMacUnresolved);
            var state = isTcp ? FlowTable.NextTcpState(FlowState.Free, tcpFlags) : FlowState.Udp;
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
        else if (isTcp)
        {
            flow.State = FlowTable.NextTcpState(flow.State, tcpFlags);
        }
        flow.LastSeenMs = nowMs;

        var mac = _neighbors.Mac(backend.NeighborIndex);
        if (mac.IsZero) return Drop(c, DropReason.BackendMacUnresolved);

        if ((meta.ChecksumNotReady || meta.Vnet.NeedsChecksum) && !meta.Vnet.IsGso)
        {
            var datagramEnd = eth.PayloadOffset + ip.TotalLength;
            int start, offset;
            if (meta.Vnet.NeedsChecksum)
            {
                start = meta.Vnet.ChecksumStart;
                offset = meta.Vnet.ChecksumOffset;
            }
            else
            {
                start = eth.PayloadOffset + ip.HeaderLength;
                offset = checksumOffset;
            }
            if (!Checksum.CompletePartial(frame[..datagramEnd], start, offset, !isTcp))
                return Drop(c, DropReason.ChecksumOffsetInvalid);
            meta.Vnet.Flags &= unchecked((byte)~VnetHeader.FlagNeedsChecksum);
            meta.ChecksumNotReady = false;
        }

        reason = service.Forwarder.Rewrite(frame, backend, mac, _interfaces.Mac(service.EgressPort));
        if (reason != DropReason.None) return Drop(c, reason);

        meta.EgressPort = service.EgressPort;
        c.ServicePackets[service.Index]++;
        c.ServiceBytes[service.Index] += frame.Length;
        c.BackendPackets[backend.Id]++;
        c.BackendBytes[backend.Id] += frame.Length;
        return Verdict.Transmit;
    }

    /// <summary>A frame cut short by the ring slot is shorter than its IPv4 total length, so it fails to parse;
    /// still, when the destination is readable, traffic that is not for a VIP is passed like any other, and
    /// only VIP traffic (or a frame too cut to tell) is counted as <see cref="DropReason.RingTruncated"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
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
