using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.Hosting;
using LoadBalancer.Hosting.Platform;
using LoadBalancer.Linux.Interop;
using LoadBalancer.Linux.Kernel;
using LoadBalancer.Linux.Xdp;

namespace LoadBalancer.Cli.Platform;

/// <summary>The AF_XDP frame port (<c>io: af_xdp</c>), and the kernel kept away from the frames it forwards.
/// One UMEM per worker, shared by all of that worker's sockets (XDP_SHARED_UMEM), so a frame received on one
/// interface leaves by another in place. One XDP program per interface the engine reads, attached through a BPF link
/// when the interface's first receiver opens and detached when its last one closes (or when the process dies, however
/// it dies). Where the AF_PACKET port installs an nftables ingress drop, this one puts the VIPs and the NAT backends'
/// replies in the program's maps: such a frame goes to the worker's socket and the kernel never sees it, so no ingress
/// drop is needed.</summary>
internal sealed class XdpFrames(XdpConfig config, IReadOnlyList<int> workerCpus, EngineLog log) : IFramePorts, IIngressDrops
{
    private readonly Dictionary<int, Shared<Umem>> _umems = new();
    private readonly Dictionary<string, Steering> _steering = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public IReceivePort OpenReceiver(string interfaceName, int interfaceIndex, int? fanoutGroup, FanoutKey fanoutKey, PortOwner owner)
    {
        var link = LinkInfo.Read(interfaceName);
        lock (_lock)
        {
            var umem = UmemOf(owner.Worker);
            Steering? steering = null;
            AfXdpPort? port = null;
            try
            {
                steering = SteeringOf(interfaceName, link.IfIndex);
                port = OpenPort(umem.Value, interfaceName, link, owner.Queue, interfaceIndex);
                steering.Program.SetSocket(port.Socket);
                log.Info($"af_xdp: worker {owner.Worker} reads {interfaceName} queue {owner.Queue} ({(port.Socket.ZeroCopy ? "zero-copy" : "copy mode")}, " +
                         $"{umem.Value.FrameCount} frames)");
                return new Receiver(port, () => Release(steering, umem));
            }
            catch
            {
                port?.Dispose();
                if (steering is not null) Release(steering, null);
                umem.Release();
                throw;
            }
        }
    }

    private AfXdpPort OpenPort(Umem umem, string name, LinkInfo link, int queue, int interfaceIndex)
    {
        try
        {
            return OpenPortInMode(umem, name, link, queue, interfaceIndex);
        }
        catch (NativeException e) when (e.Errno == NativeException.InvalidArgument && queue > 0)
        {
            throw new InvalidOperationException($"af_xdp: {name} has no receive queue {queue} for worker {queue + 1} ({e.Message}); " +
                                                "under io: af_xdp each worker reads a queue of its own: lower workers, or raise the interface's queues (ethtool -L)", e);
        }
    }

    private AfXdpPort OpenPortInMode(Umem umem, string name, LinkInfo link, int queue, int interfaceIndex)
    {
        if (config.ZeroCopy == XdpZeroCopy.Off || umem.IsRegistered)
            return AfXdpPort.Open(umem, name, link.IfIndex, queue, interfaceIndex, link.Mac);
        try
        {
            return AfXdpPort.Open(umem, name, link.IfIndex, queue, interfaceIndex, link.Mac, zeroCopy: true);
        }
        catch (NativeException e) when (config.ZeroCopy == XdpZeroCopy.Auto)
        {
            log.Info($"af_xdp: {name} has no zero-copy ({e.Message}); copy mode");
            return AfXdpPort.Open(umem, name, link.IfIndex, queue, interfaceIndex, link.Mac);
        }
    }

    public IFrameTransmitter OpenTransmitter(string interfaceName, IReceivePort? reader, PortOwner owner)
    {
        if (reader is Receiver r) return new Transmitter(r.Port.Transmitter!, null);
        var link = LinkInfo.Read(interfaceName);
        lock (_lock)
        {
            var umem = UmemOf(owner.Worker);
            try
            {
                // A transmit-only socket binds a queue too: the worker's own number, so two workers never share one.
                return new Transmitter(AfXdpTransmitter.Open(umem.Value, link.IfIndex, owner.Worker), () => { lock (_lock) umem.Release(); });
            }
            catch
            {
                umem.Release();
                throw;
            }
        }
    }

    public IDisposable Install(string interfaceName, IReadOnlyCollection<uint> vips, IReadOnlyCollection<UInt128> vips6, IReadOnlyCollection<ReplyFilter> replies,
        uint localAddress, UInt128 localAddress6)
    {
        lock (_lock)
        {
            if (!_steering.TryGetValue(interfaceName, out var steering))
                throw new InvalidOperationException($"af_xdp: no XDP program on {interfaceName} (no worker reads it)");
            steering.Replace(vips, vips6, replies, localAddress, localAddress6);
            return new Unsteer(this, steering);
        }
    }

    public string Describe(string interfaceName) => $"the maps of the XDP program on {interfaceName}";

    private Shared<Umem> UmemOf(int worker)
    {
        if (!_umems.TryGetValue(worker, out var umem) || umem.Count == 0)
            _umems[worker] = umem = new Shared<Umem>(Umem.Create(config.Frames));
        umem.Count++;
        return umem;
    }

    private Steering SteeringOf(string name, int ifIndex)
    {
        if (!_steering.TryGetValue(name, out var steering) || steering.Users == 0)
        {
            var program = XdpProgram.Load();
            try
            {
                var mode = config.Mode == XdpAttachMode.Native ? XdpMode.Native : XdpMode.Generic;
                var attachment = Attach(program, name, ifIndex, mode);
                NapiPlacement? placement;
                try
                {
                    // The workers' CPUs: the ones cpus: names, else wherever the engine may run.
                    placement = NapiPlacement.Apply(name, workerCpus.Count > 0 ? workerCpus : CpuAffinity.Of());
                }
                catch
                {
                    attachment.Dispose();
                    throw;
                }
                _steering[name] = steering = new Steering(program, attachment, placement);
                log.Info($"af_xdp: XDP program attached to {name} ({ModeNames.Name(config.Mode)} mode, a BPF link: it goes with this process)");
                if (placement is not null) log.Info($"af_xdp: {placement.Said}");
            }
            catch
            {
                program.Dispose();
                throw;
            }
        }
        steering.Users++;
        return steering;
    }

    private static XdpAttachment Attach(XdpProgram program, string name, int ifIndex, XdpMode mode)
    {
        try
        {
            return program.Attach(ifIndex, mode);
        }
        catch (NativeException e) when (e.Errno == NativeException.Busy)
        {
            throw new InvalidOperationException($"af_xdp: {name} has an XDP program attached already (see `ip link show {name}`); " +
                                                "the engine does not replace another program: detach it or use io: af_packet", e);
        }
        catch (NativeException e) when (e.Errno is NativeException.NotSupported or NativeException.InvalidArgument)
        {
            throw new InvalidOperationException($"af_xdp: {name}'s driver refused {(mode == XdpMode.Native ? "native" : "generic")} XDP ({e.Message}); " +
                                                "try xdp: {mode: generic} or io: af_packet", e);
        }
    }

    private void Release(Steering steering, Shared<Umem>? umem)
    {
        lock (_lock)
        {
            if (--steering.Users == 0) steering.Dispose();
            umem?.Release();
        }
    }

    /// <summary>Something several sockets hold, disposed when the last lets go.</summary>
    private sealed class Shared<T>(T value) where T : IDisposable
    {
        public T Value { get; } = value;
        public int Count;

        public void Release()
        {
            if (--Count == 0) Value.Dispose();
        }
    }

    /// <summary>One interface's program and its attachment, and the VIPs and NAT replies in its maps.</summary>
    private sealed class Steering(XdpProgram program, XdpAttachment attachment, NapiPlacement? placement) : IDisposable
    {
        private readonly HashSet<uint> _vips = new();
        private readonly HashSet<UInt128> _vips6 = new();
        private readonly HashSet<(uint Address, byte Protocol, ushort Port)> _replies = new();
        private readonly HashSet<(UInt128 Address, byte Protocol, ushort Port)> _replies6 = new();
        public XdpProgram Program { get; } = program;
        public int Users;

        public void Replace(IReadOnlyCollection<uint> vips, IReadOnlyCollection<UInt128> vips6, IReadOnlyCollection<ReplyFilter> replies,
            uint localAddress, UInt128 localAddress6)
        {
            var wanted = replies.Where(r => r.Address6 == 0).Select(r => (r.Address, r.Protocol, r.Port)).ToHashSet();
            // An IPv6 backend also by its address alone (protocol and port 0): its frames that open with an extension
            // header, which the program cannot see the ports of.
            var wanted6 = replies.Where(r => r.Address6 != 0)
                .SelectMany(r => new[] { (Address: r.Address6, r.Protocol, r.Port), (Address: r.Address6, Protocol: (byte)0, Port: (ushort)0) }).ToHashSet();
            // New ones first: one kept across the change is never out of the map.
            AddMissing(_vips, vips, Program.AddVip);
            AddMissing(_vips6, vips6, Program.AddVip);
            AddMissing(_replies, wanted, r => Program.AddReply(r.Address, r.Protocol, r.Port));
            AddMissing(_replies6, wanted6, r => Program.AddReply(r.Address, r.Protocol, r.Port));
            var steer = wanted.Count + wanted6.Count > 0;
            if (steer) Program.SetReplies(true, localAddress, localAddress6);
            RemoveStale(_vips, vips, v => Program.RemoveVip(v));
            RemoveStale(_vips6, vips6, v => Program.RemoveVip(v));
            if (!steer) Program.SetReplies(false, localAddress, localAddress6);
            RemoveStale(_replies, wanted, r => Program.RemoveReply(r.Address, r.Protocol, r.Port));
            RemoveStale(_replies6, wanted6, r => Program.RemoveReply(r.Address, r.Protocol, r.Port));
        }

        private static void AddMissing<T>(HashSet<T> held, IEnumerable<T> wanted, Action<T> add)
        {
            foreach (var x in wanted)
                if (held.Add(x)) add(x);
        }

        private static void RemoveStale<T>(HashSet<T> held, IReadOnlyCollection<T> wanted, Action<T> remove)
        {
            foreach (var x in held.Where(x => !wanted.Contains(x)).ToList())
            {
                remove(x);
                held.Remove(x);
            }
        }

        public void Dispose()
        {
            // The interface's NAPI as it was, while the program still holds it (the issue's order: restore, then detach).
            placement?.Dispose();
            attachment.Dispose();
            Program.Dispose();
        }
    }

    private sealed class Unsteer(XdpFrames frames, Steering steering) : IDisposable
    {
        public void Dispose()
        {
            lock (frames._lock)
                if (steering.Users > 0) steering.Replace([], [], [], 0, 0);
        }
    }

    private sealed class Receiver(AfXdpPort port, Action release) : IReceivePort
    {
        public AfXdpPort Port { get; } = port;
        public string Name => Port.Name;
        public int Poll(IFrameHandler handler, int timeoutMs) => Port.Poll(handler, timeoutMs);
        public long KernelDrops => Port.KernelDrops;

        public void JoinMulticast(MacAddress mac) => Port.JoinMulticast(mac);

        public void Dispose()
        {
            Port.Dispose();
            release();
        }
    }

    private sealed class Transmitter(AfXdpTransmitter transmitter, Action? release) : IFrameTransmitter, IDisposable
    {
        public void Enqueue(Span<byte> frame, in FrameMeta meta) => transmitter.Enqueue(frame, meta);
        public int Flush() => transmitter.Flush();

        public void Dispose()
        {
            // The receiver's own transmitter goes with its port.
            if (release is null) return;
            transmitter.Dispose();
            release();
        }
    }
}
