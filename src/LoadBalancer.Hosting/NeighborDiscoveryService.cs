using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting.Platform;

namespace LoadBalancer.Hosting;

/// <summary>IPv6 neighbour discovery for one interface, off the data path, what <see cref="ArpService"/> is for IPv4
/// and on the same <see cref="NeighborRhythm"/>: answers solicitations for the IPv6 VIPs served on it
/// (<see cref="NeighborDiscoveryResponder"/>), announces them by unsolicited advertisements to all nodes (override set,
/// solicited not) at start and whenever the engine takes over as HA master, and resolves the IPv6 neighbours reached
/// through it by solicitations to their solicited-node groups from the interface's own IPv6 address, with our MAC as
/// the source link-layer option (only the answers to these are learned). It joins the solicited-node groups of the
/// VIPs it answers for, as they come and go with reloads. Exists only on an interface with IPv6 VIPs
/// or neighbours, so an all-IPv4 engine runs no such thread.</summary>
internal sealed class NeighborDiscoveryService(ILinkSocket socket, int interfaceIndex, NeighborDiscoveryResponder responder, NeighborTable neighbors,
    InterfacePlan plan, HaRoles roles, EngineLog log)
{
    // Times round Run's loop, for the watchdog (one writer, this thread; see ForwardingWorker.Rounds).
    private long _rounds;

    /// <summary>How many times <see cref="Run"/> has gone round its loop: at least once per receive timeout.</summary>
    public long Rounds => Volatile.Read(ref _rounds);

    public void Run(CancellationToken stop)
    {
        var buffer = new byte[2048];
        var frame = new byte[EthernetFrame.HeaderLength + EthernetFrame.VlanTagLength + NeighborDiscoveryPacket.PacketLength];
        var rhythm = new NeighborRhythm(roles, neighbors, interfaceIndex, ipv6: true);
        var ownMac = plan.Mac(interfaceIndex);
        var joined = new HashSet<UInt128>();
        while (!stop.IsCancellationRequested)
        {
            Volatile.Write(ref _rounds, _rounds + 1);
            var now = Environment.TickCount64;
            if (rhythm.AnnounceDue(now))
            {
                foreach (var vip in responder.VipsOn(interfaceIndex))
                {
                    // The Ethernet source stays unicast even when the option announces a cluster MAC.
                    var n = NeighborDiscoveryPacket.WriteAdvertisementFrame(frame, Ipv6.AllNodesMac, ownMac, vip, Ipv6.AllNodes, vip,
                        NeighborDiscoveryPacket.FlagOverride, responder.AnswerMac(vip, interfaceIndex));
                    socket.Send(frame.AsSpan(0, n));
                }
            }
            if (rhythm.ResolveDue(now))
            {
                // On the resolution rhythm (due at the first turn), so a VIP a reload adds is heard within half a second.
                JoinSolicitedNodeGroups(joined);
                for (var i = 0; i < neighbors.Count; i++)
                {
                    if (!rhythm.AskDue(i, now)) continue;
                    var n = NeighborDiscoveryPacket.WriteSolicitationFrame(frame, ownMac, plan.Address6(interfaceIndex), neighbors.Address6(i));
                    socket.Send(frame.AsSpan(0, n));
                }
            }

            // Short enough that a takeover's first announcement leaves within a tenth of a second.
            var length = socket.Receive(buffer, 100);
            if (length <= 0) continue;
            if (responder.Handle(buffer.AsSpan(0, length), frame, out var replyLength, interfaceIndex, Environment.TickCount64, roles.ClaimsVips)
                == NeighborDiscoveryAction.Reply)
                socket.Send(frame.AsSpan(0, replyLength));
            if (responder.LastUpdate == NeighborUpdate.Changed)
                log.NeighborLearned(socket.InterfaceName, responder.LastAddress, responder.LastMac, responder.LastPrevious);
        }
    }

    /// <summary>Joins the solicited-node group of every VIP answered for here not joined yet, so a NIC filtering
    /// multicast delivers their solicitations. Groups of VIPs a reload removed stay joined: hearing more is harmless.</summary>
    private void JoinSolicitedNodeGroups(HashSet<UInt128> joined)
    {
        foreach (var vip in responder.VipsOn(interfaceIndex))
        {
            var group = Ipv6.SolicitedNode(vip);
            if (joined.Add(group)) socket.JoinMulticast(Ipv6.MulticastMac(group));
        }
    }
}
