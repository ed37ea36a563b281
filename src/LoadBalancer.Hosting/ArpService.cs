using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting.Platform;

namespace LoadBalancer.Hosting;

/// <summary>ARP for one interface, off the data path: answers requests for the VIPs served on it,
/// announces them by gratuitous ARP at start and whenever the engine takes over as HA master (while it claims
/// them: see <see cref="HaRoles"/>), and resolves the backend MACs reached through it
/// (on <see cref="NeighborRhythm"/>'s schedule; only the answers to these requests are learned).</summary>
internal sealed class ArpService(ILinkSocket socket, int interfaceIndex, ArpResponder responder, NeighborTable neighbors, InterfacePlan plan, HaRoles roles,
    EngineLog log)
{
    // Times round Run's loop, for the watchdog (one writer, this thread; see ForwardingWorker.Rounds).
    private long _rounds;

    /// <summary>How many times <see cref="Run"/> has gone round its loop: at least once per receive timeout.</summary>
    public long Rounds => Volatile.Read(ref _rounds);

    public void Run(CancellationToken stop)
    {
        var buffer = new byte[2048];
        var frame = new byte[64];
        var rhythm = new NeighborRhythm(roles, neighbors, interfaceIndex, ipv6: false);
        while (!stop.IsCancellationRequested)
        {
            Volatile.Write(ref _rounds, _rounds + 1);
            var now = Environment.TickCount64;
            if (rhythm.AnnounceDue(now))
            {
                foreach (var vip in responder.VipsOn(interfaceIndex))
                {
                    var n = ArpPacket.WriteFrame(frame, ArpPacket.OperationRequest, MacAddress.Broadcast, responder.AnswerMac(vip, interfaceIndex), vip, MacAddress.Zero, vip);
                    // The Ethernet source must stay unicast even when the payload announces a cluster MAC.
                    plan.Mac(interfaceIndex).Write(frame.AsSpan(6));
                    socket.Send(frame.AsSpan(0, Pad(frame, n)));
                }
            }
            if (rhythm.ResolveDue(now))
            {
                for (var i = 0; i < neighbors.Count; i++)
                {
                    if (!rhythm.AskDue(i, now)) continue;
                    var n = ArpPacket.WriteFrame(frame, ArpPacket.OperationRequest, MacAddress.Broadcast, plan.Mac(interfaceIndex),
                        plan.Address(interfaceIndex), MacAddress.Zero, neighbors.Address(i));
                    socket.Send(frame.AsSpan(0, Pad(frame, n)));
                }
            }

            // Short enough that a takeover's first announcement leaves within a tenth of a second.
            var length = socket.Receive(buffer, 100);
            if (length <= 0) continue;
            if (responder.Handle(buffer.AsSpan(0, length), interfaceIndex, Environment.TickCount64, roles.ClaimsVips) == ArpAction.Reply)
                socket.Send(buffer.AsSpan(0, length));
            if (responder.LastUpdate == NeighborUpdate.Changed) log.NeighborLearned(socket.InterfaceName, buffer.AsSpan(0, length), responder.LastPrevious);
        }
    }

    private static int Pad(byte[] frame, int length)
    {
        // Ethernet minimum is 60 bytes before the FCS; veth does not pad for us.
        if (length >= 60) return length;
        Array.Clear(frame, length, 60 - length);
        return 60;
    }
}
