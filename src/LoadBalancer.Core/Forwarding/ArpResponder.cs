using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

public enum ArpAction : byte
{
    None,
    /// <summary>The frame was turned into a reply in place; send it back out of the same port.</summary>
    Reply,
}

/// <summary>The engine's ARP: answers requests for VIPs on the service's client-side interface with that
/// interface's MAC (the balancer does not hold the VIP, so the kernel stays silent), and learns backend
/// MACs from any ARP a backend sends. Control-plane rate, but allocation-free all the same.</summary>
public sealed class ArpResponder(DataPlaneState state, NeighborTable neighbors, InterfacePlan interfaces)
{
    public long RepliesSent;
    public long Learned;

    public ArpAction Handle(Span<byte> frame, int port, long nowMs)
    {
        if (EthernetFrame.TryParse(frame, out var eth) != DropReason.None || eth.EtherType != EtherTypes.Arp) return ArpAction.None;
        if (ArpPacket.TryParse(eth.Payload, out var arp) != DropReason.None) return ArpAction.None;

        var ownMac = interfaces.Mac(port);
        var sender = arp.SenderHardwareAddress;
        if (sender == ownMac) return ArpAction.None;
        if (arp.SenderProtocolAddress != 0 && neighbors.Learn(port, arp.SenderProtocolAddress, sender, nowMs)) Learned++;

        if (arp.Operation != ArpPacket.OperationRequest) return ArpAction.None;
        var target = arp.TargetProtocolAddress;
        if (!AnswersFor(target, port)) return ArpAction.None;
        // A request's sender IP equal to the target is a gratuitous ARP or a probe from someone
        // claiming the VIP; answering it would fight them, so we stay out.
        if (arp.SenderProtocolAddress == target) return ArpAction.None;

        var requesterIp = arp.SenderProtocolAddress;
        eth.Destination = sender;
        // The Ethernet source stays our unicast MAC (a bridge drops frames from a multicast source); the
        // ARP payload carries the address the VIP is reached at: ours, or a CLUSTERIP service's cluster MAC.
        eth.Source = ownMac;
        arp.Operation = ArpPacket.OperationReply;
        arp.TargetHardwareAddress = sender;
        arp.TargetProtocolAddress = requesterIp;
        arp.SenderHardwareAddress = AnswerMac(target, port);
        arp.SenderProtocolAddress = target;
        RepliesSent++;
        return ArpAction.Reply;
    }

    /// <summary>The MAC a VIP is announced with on a port: the cluster MAC for CLUSTERIP, else the interface's.</summary>
    public MacAddress AnswerMac(uint vip, int port)
    {
        foreach (var s in state.Current.Services)
            if (s.Vip == vip && s.IngressPort == port && s.Mode == Model.ForwardingMode.ClusterIp) return s.ClusterMac;
        return interfaces.Mac(port);
    }

    public bool AnswersFor(uint address, int port)
    {
        foreach (var s in state.Current.Services)
            if (s.Vip == address && s.IngressPort == port) return true;
        return false;
    }

    /// <summary>The VIPs this engine announces on a port (for gratuitous ARP at start).</summary>
    public IReadOnlyList<uint> VipsOn(int port)
    {
        var list = new List<uint>();
        foreach (var s in state.Current.Services)
            if (s.IngressPort == port && !list.Contains(s.Vip)) list.Add(s.Vip);
        return list;
    }
}
