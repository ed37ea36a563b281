using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Forwarding;

/// <summary>The rewrite half of forwarding: the backend is already decided; this changes the bytes.
/// One implementation per mode, bound to a service when its snapshot is built.</summary>
public interface IForwarder
{
    DropReason Rewrite(Span<byte> frame, in PacketInfo packet, BackendSnapshot backend, MacAddress backendMac, MacAddress egressMac);
}
