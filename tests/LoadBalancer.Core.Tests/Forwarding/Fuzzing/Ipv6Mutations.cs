using System.Buffers.Binary;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Tests.Forwarding.Fuzzing;

/// <summary>The mutations of the IPv6 fuzz tests, aimed where IPv6 parsing decides things: version, payload length,
/// next-header fields, extension lengths, addresses (from the world's own), ports, cuts, padding, random bytes and the
/// frame's metadata (never its ingress interface, which the seed chose).</summary>
internal static class Ipv6Mutations
{
    public static byte[] Mutate(Random r, byte[] frame, ref FrameMeta meta, string[] addresses)
    {
        var l3 = frame.Length > 13 && frame[12] == 0x81 ? 18 : 14;
        var rounds = r.Next(1, 4);
        for (var k = 0; k < rounds; k++)
        {
            switch (r.Next(14))
            {
                case 0: // a bit flip anywhere
                    frame[r.Next(frame.Length)] ^= (byte)(1 << r.Next(8));
                    break;
                case 1: // a random byte in the IPv6 header or just after it
                    if (frame.Length > l3 + 48) frame[l3 + r.Next(48)] = (byte)r.Next(256);
                    break;
                case 2: // payload length at an edge
                    if (frame.Length > l3 + 6)
                        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 4), (ushort)(r.Next(4) switch { 0 => 0, 1 => 0xFFFF, 2 => r.Next(64), _ => frame.Length - l3 - 40 + r.Next(-9, 9) }));
                    break;
                case 3: // next header of the fixed header
                    if (frame.Length > l3 + 6) frame[l3 + 6] = NextHeaders[r.Next(NextHeaders.Length)];
                    break;
                case 4: // an extension header's next header or length byte
                    if (frame.Length > l3 + 42) frame[l3 + 40 + r.Next(2)] = r.Next(2) == 0 ? NextHeaders[r.Next(NextHeaders.Length)] : (byte)r.Next(256);
                    break;
                case 5: // cut
                    if (frame.Length > 1) Array.Resize(ref frame, r.Next(1, frame.Length));
                    break;
                case 6: // padding after the datagram
                    Array.Resize(ref frame, frame.Length + r.Next(1, 64));
                    break;
                case 7: // an address
                    if (frame.Length >= l3 + 40)
                        Ipv6.Write(frame.AsSpan(l3 + (r.Next(2) == 0 ? 8 : 24)), Ipv6.Parse(addresses[r.Next(addresses.Length)]));
                    break;
                case 8: // a port
                    if (frame.Length >= l3 + 44) BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 40 + 2 * r.Next(2)), (ushort)(r.Next(2) == 0 ? 80 : r.Next(65536)));
                    break;
                case 9: // version
                    if (frame.Length > l3) frame[l3] = (byte)((r.Next(16) << 4) | (frame[l3] & 0x0F));
                    break;
                case 10: // metadata
                    meta.ChecksumNotReady = r.Next(2) == 0;
                    meta.Truncated = r.Next(8) == 0;
                    meta.VlanStripped = r.Next(8) == 0;
                    break;
                case 11:
                    meta.PacketType = (PacketType)r.Next(5);
                    break;
                case 12: // random bytes in the upper layer
                    for (var i = 0; i < 4 && frame.Length > l3 + 40; i++) frame[l3 + 40 + r.Next(frame.Length - l3 - 40)] = (byte)r.Next(256);
                    break;
                default: // left as it is
                    break;
            }
        }
        return frame;
    }

    private static readonly byte[] NextHeaders = [0, 6, 17, 43, 44, 58, 59, 60, 50, 51, 135, 253, 255];
}
