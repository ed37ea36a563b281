using LoadBalancer.Core.IO;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Packet;

/// <summary>Fills the virtio_net_hdr that precedes a frame we transmit (PACKET_VNET_HDR).</summary>
internal static unsafe class VnetHeaderWriter
{
    public static void Write(virtio_net_hdr* h, in FrameMeta meta, int frameLength)
    {
        h->flags = meta.Vnet.Flags;
        h->gso_type = meta.Vnet.GsoType;
        // hdr_len is how much of the frame the kernel copies into the skb's linear part; the rest becomes
        // page fragments (fresh pages for sendmsg, ring pages for the TX ring, which veth then copies
        // again). For a frame that is not GSO, all of it in the linear part is cheapest.
        h->hdr_len = meta.Vnet.IsGso ? meta.Vnet.HeaderLength : (ushort)Math.Min(frameLength, ushort.MaxValue);
        h->gso_size = meta.Vnet.GsoSize;
        h->csum_start = meta.Vnet.ChecksumStart;
        h->csum_offset = meta.Vnet.ChecksumOffset;
    }
}
