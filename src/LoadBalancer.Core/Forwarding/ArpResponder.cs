using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

public enum ArpAction : byte
{
    None,
    /// <summary>The frame was turned into a reply in place; send it back out of the interface it came in on.</summary>
    Reply,
}

/// <summary>The engine's ARP: answers requests for VIPs on the service's client-side interface with that
/// interface's MAC (the balancer does not hold the VIP, so the kernel stays silent), and learns backend
/// MACs from the answers to its own requests (<see cref="NeighborTable"/> says which it takes). Control-plane
/// rate, but allocation-free all the same.</summary>
public sealed class ArpResponder(DataPlaneState state, NeighborTable neighbors, InterfacePlan interfaces)
{
    public long RepliesSent;
    /// <summary>Neighbour MACs learned or changed.</summary>
    public long Learned;
    /// <summary>ARPs that claimed a neighbour's address with another MAC and were not taken (<see cref="NeighborUpdate.Refused"/>).</summary>
    public long Refused;
    /// <summary>What the last frame did to the neighbour table, and the MAC held before (for the log).</summary>
    public NeighborUpdate LastUpdate { get; private set; }
    public MacAddress LastPrevious { get; private set; }
    /// <summary>Requests for a VIP left unanswered because this engine did not claim its VIPs (an HA backup).</summary>
    public long RequestsNotClaimed;

    /// <summary>One ARP frame. With <paramref name="claimsVips"/> false (an HA backup: only the master holds the VIPs on
    /// the segment) requests for the VIPs go unanswered; backend MACs are learned either way, so a backup is ready to
    /// forward.</summary>
    public ArpAction Handle(Span<byte> frame, int interfaceIndex, long nowMs, bool claimsVips = true)
    {
        if (EthernetFrame.TryParse(frame, out var eth) != DropReason.None || eth.EtherType != EtherTypes.Arp) return ArpAction.None;
        if (ArpPacket.TryParse(eth.Payload, out var arp) != DropReason.None) return ArpAction.None;

        var ownMac = interfaces.Mac(interfaceIndex);
        var sender = arp.SenderHardwareAddress;
        if (sender == ownMac) return ArpAction.None;
        LastUpdate = NeighborUpdate.None;
        if (arp.SenderProtocolAddress != 0)
        {
            // Ours only if it answers us, whole: to our MAC and address, from the MAC it names.
            var answersUs = arp.Operation == ArpPacket.OperationReply && eth.Destination == ownMac && eth.Source == sender
                && arp.TargetHardwareAddress == ownMac && arp.TargetProtocolAddress == interfaces.Address(interfaceIndex);
            LastUpdate = neighbors.Learn(interfaceIndex, arp.SenderProtocolAddress, sender, nowMs, answersUs, out var previous);
            LastPrevious = previous;
            if (LastUpdate == NeighborUpdate.Changed) Learned++;
            else if (LastUpdate == NeighborUpdate.Refused) Refused++;
        }

        if (arp.Operation != ArpPacket.OperationRequest) return ArpAction.None;
        var target = arp.TargetProtocolAddress;
        if (!AnswersFor(target, interfaceIndex)) return ArpAction.None;
        // A request's sender IP equal to the target is a gratuitous ARP or a probe from someone
        // claiming the VIP; answering it would fight them, so we stay out.
        if (arp.SenderProtocolAddress == target) return ArpAction.None;
        if (!claimsVips)
        {
            RequestsNotClaimed++;
            return ArpAction.None;
        }

        var requesterIp = arp.SenderProtocolAddress;
        eth.Destination = sender;
        // The Ethernet source stays our unicast MAC (a bridge drops frames from a multicast source); the
        // ARP payload carries the address the VIP is reached at: ours, or a CLUSTERIP service's cluster MAC.
        eth.Source = ownMac;
        arp.Operation = ArpPacket.OperationReply;
        arp.TargetHardwareAddress = sender;
        arp.TargetProtocolAddress = requesterIp;
        arp.SenderHardwareAddress = AnswerMac(target, interfaceIndex);
        arp.SenderProtocolAddress = target;
        RepliesSent++;
        return ArpAction.Reply;
    }

    /// <summary>The MAC a VIP is announced with on an interface: the service's own (CLUSTERIP's cluster MAC)
    /// when it has one, else the interface's.</summary>
    public MacAddress AnswerMac(uint vip, int interfaceIndex)
    {
        foreach (var s in state.Current.Ipv4Services)
            if (s.Vip == vip && s.IngressInterface == interfaceIndex && s.VipMac is { } mac) return mac;
        return interfaces.Mac(interfaceIndex);
    }

    public bool AnswersFor(uint address, int interfaceIndex)
    {
        foreach (var s in state.Current.Ipv4Services)
            if (s.Vip == address && s.IngressInterface == interfaceIndex && s.AnswersArp) return true;
        return false;
    }

    /// <summary>The VIPs this engine announces on an interface (for gratuitous ARP at start); a routed VIP
    /// (<c>arp: false</c>) is not among them.</summary>
    public IReadOnlyList<uint> VipsOn(int interfaceIndex)
    {
        var list = new List<uint>();
        foreach (var s in state.Current.Ipv4Services)
            if (s.IngressInterface == interfaceIndex && s.AnswersArp && !list.Contains(s.Vip)) list.Add(s.Vip);
        return list;
    }
}
