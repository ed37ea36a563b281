using LoadBalancer.Core.Model;

using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary>The top-level keys <c>io</c> and <c>xdp</c>: what they read, and what <c>lb check</c> refuses rather than
/// ignores (a key not built yet, a service the AF_XDP port does not carry).</summary>
public class IoConfigTests
{
    [Fact]
    public void Parse_NoIo_AfPacketAndTheXdpDefaults()
    {
        var config = Load(Minimal());

        Assert.Equal(FrameIo.AfPacket, config.Io);
        Assert.Equal((XdpAttachMode.Native, XdpZeroCopy.Auto, 4096), (config.Xdp.Mode, config.Xdp.ZeroCopy, config.Xdp.Frames));
    }

    [Theory]
    [InlineData("af_packet", FrameIo.AfPacket)]
    [InlineData("af_xdp", FrameIo.AfXdp)]
    [InlineData("auto", FrameIo.Auto)]
    public void Parse_Io_IsRead(string value, FrameIo expected)
    {
        Assert.Equal(expected, Load(Minimal($"io: {value}")).Io);
    }

    [Fact]
    public void Parse_Xdp_IsRead()
    {
        var xdp = Load(Minimal("xdp: {mode: generic, zero_copy: off, frames: 8192}")).Xdp;

        Assert.Equal((XdpAttachMode.Generic, XdpZeroCopy.Off, 8192), (xdp.Mode, xdp.ZeroCopy, xdp.Frames));
    }

    [Theory]
    [InlineData("io: xdp", "lb.yaml:1: io must be one of 'af_packet', 'af_xdp' or 'auto' (got 'xdp')")]
    [InlineData("xdp: {mode: offload}", "lb.yaml:1: mode must be 'native' or 'generic' (got 'offload')")]
    [InlineData("xdp: {zero_copy: yes}", "lb.yaml:1: zero_copy must be one of 'auto', 'on' or 'off' (got 'yes')")]
    [InlineData("xdp: {frames: 100}", "lb.yaml:1: frames must be between 4096 and 524288 (got 100)")]
    [InlineData("xdp: {busy_poll: true}", "lb.yaml:1: xdp.busy_poll is not implemented yet: the AF_XDP sockets wait in poll() (event-driven); remove the key")]
    [InlineData("xdp: {busy_poll: false}", "lb.yaml:1: xdp.busy_poll is not implemented yet: the AF_XDP sockets wait in poll() (event-driven); remove the key")]
    [InlineData("xdp: {ring: 4}", "lb.yaml:1: unknown key 'ring'")]
    public void Parse_BadIoOrXdp_ReportsItsLine(string top, string expected)
    {
        AssertSingleError(Minimal(top), expected);
    }

    [Fact]
    public void Parse_AfXdpWithANatServiceAndTwoWorkers_IsRefusedAtTheService()
    {
        var yaml = Minimal("io: af_xdp\nworkers: 2").Replace("    interface: eth0", "    interface: eth0\n    mode: nat\n    backend_interface: eth1");

        AssertSingleError(yaml, "lb.yaml:4: service 'web': io af_xdp (line 1) does not carry a NAT service with workers: 2 (the NIC's receive " +
                                "queue, not the engine, picks a frame's worker, so a backend's reply could reach a worker without its session); " +
                                "use workers: 1, io: af_packet or io: auto");
    }

    [Theory]
    [InlineData("io: af_xdp\nworkers: 2", "", "10.99.0.100", "10.99.1.11")] // DR: any worker can take any flow
    [InlineData("io: af_xdp", "", "2001:db8::100", "2001:db8:1::11")]
    [InlineData("io: af_xdp", "mode: nat\n    backend_interface: eth1", "2001:db8::100", "2001:db8:1::11")]
    public void Parse_AfXdp_CarriesIpv6AndDrWithWorkers(string top, string extra, string vip, string backend)
    {
        var yaml = $"""
        {top}
        services:
          - name: web
            vip: {vip}
            port: 80
            interface: eth0
            {extra}
            backends:
              - name: web1
                address: {backend}
        """;

        Assert.Equal(FrameIo.AfXdp, Load(yaml).Io);
    }

    [Theory]
    [InlineData("auto", FrameIo.Auto)]
    [InlineData("af_xdp", FrameIo.AfXdp)]
    public void Parse_NatService_IsCarriedByEither(string io, FrameIo expected)
    {
        var yaml = Minimal($"io: {io}").Replace("    interface: eth0", "    interface: eth0\n    mode: nat\n    backend_interface: eth1");

        Assert.Equal(expected, Load(yaml).Io);
    }

    [Fact]
    public void Parse_AfXdp_CarriesClusterIp()
    {
        const string yaml = """
            io: af_xdp
            workers: 2
            services:
              - name: web
                vip: 10.99.0.100
                port: 80
                mode: clusterip
                interface: eth0
                cluster:
                  mac: 01:00:5e:7f:00:64
                  local_node: 1
                  nodes:
                    - {id: 1, address: 10.99.1.11}
                    - {id: 2, address: 10.99.1.12}
            """;

        Assert.Equal(FrameIo.AfXdp, Load(yaml).Io);
    }
}
