using LoadBalancer.Core.Model;
using LoadBalancer.Hosting;
using LoadBalancer.Linux.Interop;
using LoadBalancer.Linux.Kernel;
using LoadBalancer.Linux.Xdp;

namespace LoadBalancer.Cli.Platform;

/// <summary><c>io:</c> decided once, at start. <c>af_packet</c> and <c>af_xdp</c> are what they say (the config has
/// refused services AF_XDP does not carry). <c>auto</c> takes AF_XDP when every service is one it carries and every
/// interface the engine reads takes the XDP program in the configured mode (tried: loaded, attached, detached),
/// else AF_PACKET, with one log line saying why either way.</summary>
internal static class XdpChoice
{
    public static bool UseXdp(BalancerConfig config, EngineLog log)
    {
        if (config.Io == FrameIo.AfPacket) return false;
        if (config.Io == FrameIo.AfXdp) return true;
        foreach (var s in config.Services)
            if (XdpConfig.WhyNotCarried(s, config.Workers) is { } why)
            {
                log.Info($"io auto: af_packet, because af_xdp {why} (service '{s.Name}')");
                return false;
            }
        // The interfaces the engine reads: every service's, and a NAT service's backend side (its replies).
        var interfaces = config.Services.Select(s => s.Interface)
            .Concat(config.Services.Where(s => s.Mode == ForwardingMode.Nat).Select(s => s.EffectiveBackendInterface))
            .Distinct(StringComparer.Ordinal).ToList();
        var mode = config.Xdp.Mode == XdpAttachMode.Native ? XdpMode.Native : XdpMode.Generic;
        foreach (var name in interfaces)
        {
            try
            {
                using var program = XdpProgram.Load();
                using var attachment = program.Attach(LinkInfo.Read(name).IfIndex, mode);
            }
            catch (Exception e) when (e is NativeException or InvalidOperationException or IOException)
            {
                log.Info($"io auto: af_packet, because {name} did not take a {ModeNames.Name(config.Xdp.Mode)} XDP program: {e.Message}");
                return false;
            }
        }
        log.Info($"io auto: af_xdp ({ModeNames.Name(config.Xdp.Mode)} XDP on {string.Join(", ", interfaces)})");
        return true;
    }
}
