using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

public enum NeighborDiscoveryAction : byte
{
    None,
    /// <summary>An advertisement answering the frame was written into the reply buffer; send it out of the interface
    /// the frame came in on.</summary>
    Reply,
}

/// <summary>The engine's IPv6 neighbour discovery, what <see cref="ArpResponder"/> is for IPv4, under the same rules:
/// it answers solicitations for the IPv6 VIPs served on the interface they arrived on (services with <c>arp:</c>
/// true: the one key governs both families) with a solicited, overriding advertisement from the VIP carrying the
/// interface's MAC (a CLUSTERIP service's cluster MAC), the Ethernet source always the interface's own unicast MAC;
/// it stays out of duplicate address detection for a VIP (someone else claims it) and, while the engine does not
/// claim its VIPs (an HA backup), answers nothing and counts it. It learns backend MACs only from a solicited
/// advertisement unicast to our MAC and address, from the MAC it names, for a neighbour we solicited within
/// <see cref="NeighborTable.AnswerWindowMs"/> (<see cref="NeighborTable.Learn6"/>); anything else claiming a
/// backend's address with another MAC is refused and counted. Control-plane rate, allocation-free all the same.</summary>
public sealed class NeighborDiscoveryResponder(DataPlaneState state, NeighborTable neighbors, InterfacePlan interfaces)
{
    public long AdvertisementsSent;
    /// <summary>Neighbour MACs learned or changed.</summary>
    public long Learned;
    /// <summary>Advertisements or solicitations that claimed a neighbour's address with another MAC and were not
    /// taken (<see cref="NeighborUpdate.Refused"/>).</summary>
    public long Refused;
    /// <summary>Solicitations for a VIP left unanswered because this engine did not claim its VIPs (an HA backup).</summary>
    public long SolicitationsNotClaimed;
    /// <summary>Solicitations and advertisements RFC 4861 says to discard (<see cref="NeighborDiscoveryPacket.TryParse"/>).</summary>
    public long Malformed;
    /// <summary>What the last frame did to the neighbour table, whose address it was about and the MAC held before
    /// and after (for the log).</summary>
    public NeighborUpdate LastUpdate { get; private set; }
    public UInt128 LastAddress { get; private set; }
    public MacAddress LastMac { get; private set; }
    public MacAddress LastPrevious { get; private set; }

    /// <summary>One frame from the interface's ND socket. An answer is written into <paramref name="reply"/> (at least
    /// the frame's Ethernet header and <see cref="NeighborDiscoveryPacket.PacketLength"/> bytes), its length in
    /// <paramref name="replyLength"/>. With <paramref name="claimsVips"/> false solicitations for the VIPs go
    /// unanswered; backend MACs are learned either way, so a backup is ready to forward.</summary>
    public NeighborDiscoveryAction Handle(Span<byte> frame, Span<byte> reply, out int replyLength, int interfaceIndex, long nowMs, bool claimsVips = true)
    {
        replyLength = 0;
        LastUpdate = NeighborUpdate.None;
        if (EthernetFrame.TryParse(frame, out var eth) != DropReason.None || eth.EtherType != EtherTypes.Ipv6) return NeighborDiscoveryAction.None;
        if (Ipv6Packet.TryParse(eth.Payload, out var ip) != DropReason.None) return NeighborDiscoveryAction.None;
        var error = NeighborDiscoveryPacket.TryParse(ip, out var nd);
        if (error != NeighborDiscoveryError.None)
        {
            if (error != NeighborDiscoveryError.NotNeighborDiscovery) Malformed++;
            return NeighborDiscoveryAction.None;
        }
        var ownMac = interfaces.Mac(interfaceIndex);
        if (eth.Source == ownMac) return NeighborDiscoveryAction.None;

        if (nd.IsAdvertisement)
        {
            // Ours only if it answers us, whole: solicited, to our MAC and address, from the MAC it names.
            if (!nd.HasLinkLayerAddress) return NeighborDiscoveryAction.None;
            var mac = nd.LinkLayerAddress;
            var answersUs = nd.IsSolicited && eth.Destination == ownMac && eth.Source == mac && ip.Destination == interfaces.Address6(interfaceIndex);
            Learn(interfaceIndex, nd.Target, mac, nowMs, answersUs);
            return NeighborDiscoveryAction.None;
        }

        // A solicitation says its sender's MAC as an ARP request does: a backend's is not taken unasked.
        if (ip.Source != 0 && nd.HasLinkLayerAddress) Learn(interfaceIndex, ip.Source, nd.LinkLayerAddress, nowMs, answersUs: false);
        var target = nd.Target;
        if (!AnswersFor(target, interfaceIndex)) return NeighborDiscoveryAction.None;
        // Duplicate address detection (source ::), or a solicitation from the VIP itself: someone else holds or
        // claims it; answering would fight them, so we stay out.
        if (ip.Source == 0 || ip.Source == target) return NeighborDiscoveryAction.None;
        if (!claimsVips)
        {
            SolicitationsNotClaimed++;
            return NeighborDiscoveryAction.None;
        }

        var requester = ip.Source;
        var requesterMac = nd.HasLinkLayerAddress ? nd.LinkLayerAddress : eth.Source;
        var header = eth.PayloadOffset;
        if (reply.Length < header + NeighborDiscoveryPacket.PacketLength) throw new ArgumentException("reply buffer too small", nameof(reply));
        // The Ethernet header as it came (a VLAN tag stays), turned round; the Ethernet source stays our unicast MAC
        // (a bridge drops frames from a multicast source), the option carries the MAC the VIP is reached at.
        frame[..header].CopyTo(reply);
        requesterMac.Write(reply);
        ownMac.Write(reply[6..]);
        replyLength = header + NeighborDiscoveryPacket.WriteAdvertisement(reply[header..], target, requester, target,
            NeighborDiscoveryPacket.FlagSolicited | NeighborDiscoveryPacket.FlagOverride, AnswerMac(target, interfaceIndex));
        AdvertisementsSent++;
        return NeighborDiscoveryAction.Reply;
    }

    private void Learn(int interfaceIndex, UInt128 address, MacAddress mac, long nowMs, bool answersUs)
    {
        LastUpdate = neighbors.Learn6(interfaceIndex, address, mac, nowMs, answersUs, out var previous);
        LastAddress = address;
        LastMac = mac;
        LastPrevious = previous;
        if (LastUpdate == NeighborUpdate.Changed) Learned++;
        else if (LastUpdate == NeighborUpdate.Refused) Refused++;
    }

    /// <summary>The MAC an IPv6 VIP is advertised with on an interface: the service's own (CLUSTERIP's cluster MAC)
    /// when it has one, else the interface's.</summary>
    public MacAddress AnswerMac(UInt128 vip, int interfaceIndex)
    {
        foreach (var s in state.Current.Ipv6Services)
            if (s.Vip6 == vip && s.IngressInterface == interfaceIndex && s.VipMac is { } mac) return mac;
        return interfaces.Mac(interfaceIndex);
    }

    public bool AnswersFor(UInt128 address, int interfaceIndex)
    {
        foreach (var s in state.Current.Ipv6Services)
            if (s.Vip6 == address && s.IngressInterface == interfaceIndex && s.AnswersArp) return true;
        return false;
    }

    /// <summary>The IPv6 VIPs this engine advertises on an interface (unsolicited advertisements at start and on
    /// takeover); a routed VIP (<c>arp: false</c>) is not among them.</summary>
    public IReadOnlyList<UInt128> VipsOn(int interfaceIndex)
    {
        var list = new List<UInt128>();
        foreach (var s in state.Current.Ipv6Services)
            if (s.IngressInterface == interfaceIndex && s.AnswersArp && !list.Contains(s.Vip6)) list.Add(s.Vip6);
        return list;
    }
}
