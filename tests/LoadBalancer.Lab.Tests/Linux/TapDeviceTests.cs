using System.Buffers.Binary;
using System.Diagnostics;
using LoadBalancer.Core.Packets;
using LoadBalancer.Lab.Tests.Infrastructure;
using LoadBalancer.Linux.Packet;

namespace LoadBalancer.Lab.Tests.Linux;

/// <summary>The TAP route CLUSTERIP re-injects through: a frame written into the device reaches a socket
/// of the local stack. The device is created here and moved into a namespace of the test's own.</summary>
public sealed class TapDeviceTests : IDisposable
{
    private readonly string _ns = "lt" + Convert.ToHexString(Guid.NewGuid().ToByteArray())[..6].ToLowerInvariant() + "-tap";
    private bool _created;

    [LabFact]
    public void Write_UdpFrameToAnAddressOnLo_ReachesTheListeningSocket()
    {
        var tapName = _ns[..8] + "t0";
        using var tap = TapDevice.Create(tapName);
        Assert.Equal(0, Shell.Run("ip", ["netns", "add", _ns]).ExitCode);
        _created = true;
        Assert.Equal(0, Shell.Run("ip", ["link", "set", tapName, "netns", _ns]).ExitCode);
        var setup = Shell.InNamespace(_ns, ["bash", "-c",
            $"ip link set lo up && ip addr add 10.200.0.1/32 dev lo && ip link set {tapName} up && " +
            $"sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.{tapName}.rp_filter=0"]);
        Assert.True(setup.ExitCode == 0, setup.Output);
        var tapMac = MacAddress.Parse(Shell.InNamespace(_ns, ["cat", $"/sys/class/net/{tapName}/address"]).Stdout.Trim());

        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", _ns, "/usr/bin/python3", "-c",
                     "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('10.200.0.1',9999))\n" +
                     "print('ready',flush=True)\ns.settimeout(10)\nprint(s.recvfrom(100)[0].decode(),flush=True)" })
            psi.ArgumentList.Add(a);
        using var listener = Process.Start(psi)!;
        Assert.Equal("ready", listener.StandardOutput.ReadLine());

        Assert.True(tap.Write(UdpFrame(tapMac, "re-injected")));
        Assert.Equal("re-injected", listener.StandardOutput.ReadLine());
        Assert.True(listener.WaitForExit(10_000));
    }

    private static byte[] UdpFrame(MacAddress destination, string text)
    {
        var payload = System.Text.Encoding.ASCII.GetBytes(text);
        var frame = new byte[14 + 20 + 8 + payload.Length];
        destination.Write(frame);
        MacAddress.Parse("02:00:00:00:aa:01").Write(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherTypes.Ipv4);
        var ip = frame.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload.Length));
        ip[8] = 64;
        ip[9] = IpProtocols.Udp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], Ipv4.Parse("10.200.0.2"));
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], Ipv4.Parse("10.200.0.1"));
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        var udp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9999);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payload.Length));
        payload.CopyTo(udp[8..]);
        return frame; // UDP checksum 0: none, which the stack accepts
    }

    public void Dispose()
    {
        if (_created) Shell.Run("ip", ["netns", "delete", _ns]);
    }
}
