using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Interop;
using LoadBalancer.Linux.Packet;
using LoadBalancer.Linux.Xdp;
using LoadBalancer.TestKit;

namespace LoadBalancer.Linux.Tests.Xdp;

/// <summary>The AF_XDP port on real veths, in a namespace of the test's own: a0 (the port's, with the XDP program in
/// native mode and the host address 10.77.0.2) faces a1, where the test plays the client with a packet socket; b0
/// (a transmit-only socket sharing the port's UMEM) faces b1, where the test captures. Nothing is sent outside
/// that namespace, and deleting it takes the veths, sockets and the program's link with it.</summary>
public sealed class AfXdpPortTests
{
    private static readonly MacAddress A0 = MacAddress.Parse("02:77:00:00:0a:00");
    private static readonly MacAddress A1 = MacAddress.Parse("02:77:00:00:0a:01");
    private static readonly MacAddress B0 = MacAddress.Parse("02:77:00:00:0b:00");
    private static readonly MacAddress B1 = MacAddress.Parse("02:77:00:00:0b:01");
    private const string Vip = "10.77.0.100";
    private const string HostAddress = "10.77.0.2";
    private const string ClientAddress = "10.77.0.1";
    private const int PlanIndexA = 3;

    private const string NeedsRoot = "namespaces, veths and XDP programs need root";

    [RootFact(NeedsRoot)]
    public void Poll_UdpToTheVip_ArrivesOnTheSocketInPlace()
    {
        WithRig(rig =>
        {
            rig.SendToVip("to the vip");

            var got = rig.PollUntil(1);

            Assert.Single(got);
            var (frame, meta) = got[0];
            Assert.Equal(A0, MacAddress.Read(frame));
            Assert.Equal(Ipv4.Parse(Vip), BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(14 + 16)));
            Assert.EndsWith("to the vip", System.Text.Encoding.ASCII.GetString(frame));
            Assert.Equal((PlanIndexA, PlanIndexA, PacketType.Host), (meta.IngressInterface, meta.EgressInterface, meta.PacketType));
            Assert.False(rig.Port.Socket.ZeroCopy); // veth: copy mode only
            // This kernel (6.18) takes XDP_MAX_TX_SKB_BUDGET: one kick sends a whole ring, not 32 frames.
            Assert.Equal((int)rig.Port.Socket.Tx!.Size, rig.Port.Socket.TxBudget);
            Assert.Equal(0, rig.Port.KernelDrops);
        });
    }

    [RootFact(NeedsRoot)]
    public void Poll_OtherAddressAndArp_ReachTheKernelAndNotTheSocket()
    {
        WithRig(rig =>
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
            listener.Bind(new IPEndPoint(IPAddress.Parse(HostAddress), 9999));
            using var arpReplies = PacketSocket.Open("a1");
            arpReplies.Bind(PacketConstants.ETH_P_ARP);

            rig.Client.Send(FrameBuilder.Udp(ClientAddress, 40000, HostAddress, 9999).EthernetSource(A1).EthernetDestination(A0).Payload("to the host").Build());
            rig.Client.Send(FrameBuilder.ArpRequest(A1, ClientAddress, HostAddress));

            var datagram = new byte[100];
            Assert.Equal("to the host", System.Text.Encoding.ASCII.GetString(datagram, 0, listener.Receive(datagram)));
            Assert.True(ReceiveMatching(arpReplies, f => f.Length >= 42 && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(20)) == 2
                && BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(28)) == Ipv4.Parse(HostAddress)), "the kernel did not answer the ARP request");
            // Both already reached the kernel; the socket must not have been given a copy.
            Assert.Empty(rig.PollFor(300));
        });
    }

    [RootFact(NeedsRoot)]
    public void Transmit_ReceivedFrameToTheOtherVeth_LeavesInPlace_AndAForeignFrameIsCopied()
    {
        WithRig(rig =>
        {
            using var capture = Capture("b1");
            rig.Forward = true;

            rig.SendToVip("forwarded in place");
            Assert.Single(rig.PollUntil(1));

            Assert.True(ReceiveMatching(capture, f => MacAddress.Read(f) == B1 && f.AsSpan().EndsWith("forwarded in place"u8)), "the forwarded frame did not reach b1");
            Assert.Equal((1, 0), (rig.Egress.InPlace, rig.Egress.Copied));

            var foreign = FrameBuilder.Udp(ClientAddress, 40001, Vip, 9).EthernetSource(B0).EthernetDestination(B1).Payload("copied from managed memory").Build();
            rig.Egress.Enqueue(foreign, default);
            Assert.Equal(0, rig.Egress.Flush());

            Assert.True(ReceiveMatching(capture, f => f.AsSpan().EndsWith("copied from managed memory"u8)), "the copied frame did not reach b1");
            Assert.Equal((1, 1), (rig.Egress.InPlace, rig.Egress.Copied));
            // Every frame not lent to the port's fill ring is back in the free list once the completions are reaped.
            var deadline = Stopwatch.StartNew();
            while (rig.Umem.FreeFrames != rig.Umem.FrameCount - (int)rig.Port.Socket.Fill.Size && deadline.ElapsedMilliseconds < 2000)
            {
                rig.Egress.Flush();
                Thread.Sleep(10);
            }
            Assert.Equal(rig.Umem.FrameCount - (int)rig.Port.Socket.Fill.Size, rig.Umem.FreeFrames);
        });
    }

    [RootFact(NeedsRoot)]
    public void Transmit_OutOfTheInterfaceItCameIn_LeavesInPlaceOnThePortsOwnSocket()
    {
        WithRig(rig =>
        {
            using var capture = Capture("a1");
            rig.Back = true;

            rig.SendToVip("back where it came from");
            Assert.Single(rig.PollUntil(1));

            Assert.True(ReceiveMatching(capture, f => MacAddress.Read(f) == A1 && MacAddress.Read(f.AsSpan(6)) == A0 && f.AsSpan().EndsWith("back where it came from"u8)),
                "the frame sent back did not reach a1");
            Assert.Equal((1, 0), (rig.Port.Transmitter!.InPlace, rig.Port.Transmitter.Copied));
        });
    }

    /// <summary>Receive, hand over, transmit in place, flush, recycle: after a warm-up, a batch of frames through the
    /// port and the egress transmitter allocates nothing on the worker's thread.</summary>
    [RootFact(NeedsRoot)]
    public void PollAndTransmit_AfterWarmUp_AllocateNothing()
    {
        WithRig(rig =>
        {
            rig.Forward = true;
            rig.Record = false;
            for (var i = 0; i < 4; i++) rig.SendToVip("counted");
            rig.PollUntil(4);

            for (var i = 0; i < 32; i++) rig.SendToVip("counted");
            var before = GC.GetAllocatedBytesForCurrentThread();
            var deadline = Environment.TickCount64 + 5000;
            while (rig.Handled < 36 && Environment.TickCount64 < deadline) rig.Port.Poll(rig, 100);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.Equal(36, rig.Handled);
            Assert.Equal(36, rig.Egress.InPlace);
            Assert.Equal(0, allocated);
        });
    }

    /// <summary>A packet socket seeing every frame that arrives on <paramref name="link"/>.</summary>
    private static PacketSocket Capture(string link)
    {
        var socket = PacketSocket.Open(link);
        socket.Bind(PacketConstants.ETH_P_ALL);
        return socket;
    }

    private static bool ReceiveMatching(PacketSocket socket, Func<byte[], bool> match)
    {
        var buffer = new byte[2048];
        var deadline = Stopwatch.StartNew();
        while (deadline.ElapsedMilliseconds < 5000)
        {
            var n = socket.Receive(buffer, 200);
            if (n > 0 && match(buffer[..n])) return true;
        }
        return false;
    }

    private static void WithRig(Action<Rig> body)
    {
        using var ns = new TestNetworkNamespace();
        // No IPv6: no router or neighbour solicitations on the veths to tell apart from the test's frames.
        ns.Exec("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        ns.In("link", "add", "a0", "address", A0.ToString(), "type", "veth", "peer", "name", "a1", "address", A1.ToString());
        ns.In("link", "add", "b0", "address", B0.ToString(), "type", "veth", "peer", "name", "b1", "address", B1.ToString());
        ns.In("addr", "add", HostAddress + "/24", "dev", "a0");
        foreach (var link in new[] { "a0", "a1", "b0", "b1" }) ns.In("link", "set", link, "up");
        ns.Run(() =>
        {
            var a0 = (int)LibC.if_nametoindex("a0");
            var b0 = (int)LibC.if_nametoindex("b0");
            using var program = XdpProgram.Load(maxVips: 16, maxQueues: 4);
            program.AddVip(Ipv4.Parse(Vip));
            using var umem = Umem.Create();
            using var port = AfXdpPort.Open(umem, "a0", a0, queueId: 0, PlanIndexA, A0);
            using var egress = AfXdpTransmitter.Open(umem, b0, queueId: 0);
            program.SetSocket(port.Socket);
            using var attachment = program.Attach(a0, XdpMode.Native);
            using var client = PacketSocket.Open("a1");
            client.Bind(0);
            body(new Rig(port, egress, umem, client));
        });
    }

    private sealed class Rig(AfXdpPort port, AfXdpTransmitter egress, Umem umem, PacketSocket client) : IFrameHandler
    {
        private readonly List<(byte[], FrameMeta)> _frames = [];

        public AfXdpPort Port => port;
        public AfXdpTransmitter Egress => egress;
        public Umem Umem => umem;
        public PacketSocket Client => client;

        /// <summary>Rewrite each frame for b1 and send it out of b0.</summary>
        public bool Forward { get; set; }

        /// <summary>Swap the MACs and send each frame back out of a0, on the port's own socket.</summary>
        public bool Back { get; set; }

        /// <summary>Keep a copy of each frame (off for the allocation test).</summary>
        public bool Record { get; set; } = true;

        public int Handled { get; private set; }

        /// <summary>One UDP frame from the client on a1 to the VIP, addressed to a0's MAC.</summary>
        public void SendToVip(string payload) =>
            client.Send(FrameBuilder.Udp(ClientAddress, 40000, Vip, 9).EthernetSource(A1).EthernetDestination(A0).Payload(payload).Build());

        public List<(byte[] Frame, FrameMeta Meta)> PollUntil(int count, int timeoutMs = 5000)
        {
            var deadline = Stopwatch.StartNew();
            while (_frames.Count < count && deadline.ElapsedMilliseconds < timeoutMs) port.Poll(this, 100);
            return [.. _frames];
        }

        public List<(byte[] Frame, FrameMeta Meta)> PollFor(int ms)
        {
            var deadline = Stopwatch.StartNew();
            while (deadline.ElapsedMilliseconds < ms) port.Poll(this, 50);
            return [.. _frames];
        }

        public Verdict Handle(Span<byte> frame, ref FrameMeta meta)
        {
            Handled++;
            if (Record) _frames.Add((frame.ToArray(), meta));
            if (Back)
            {
                A1.Write(frame);
                A0.Write(frame[6..]);
                port.Transmitter!.Enqueue(frame, meta);
                return Verdict.Transmit;
            }
            if (!Forward) return Verdict.Pass;
            B1.Write(frame);
            B0.Write(frame[6..]);
            egress.Enqueue(frame, meta);
            return Verdict.Transmit;
        }

        public void EndOfBatch()
        {
            // Asserting allocates (a closure, boxing): only when something failed.
            if (egress.Flush() != 0 || port.Transmitter!.Flush() != 0) Assert.Fail("the kernel refused a transmit");
        }
    }
}
