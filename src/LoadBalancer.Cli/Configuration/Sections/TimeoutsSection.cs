using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Cli.Configuration.Sections;

/// <summary>Idle timeouts: the engine's <c>flow_timeouts:</c> or a NAT service's <c>timeouts:</c>.</summary>
internal sealed class TimeoutsSection(ConfigReader r)
{
    private static readonly string[] Keys = ["tcp_syn", "tcp_established", "tcp_closing", "udp"];

    /// <summary>A NAT service's <c>timeouts:</c> mapping, or the engine's <c>flow_timeouts:</c>; every key is
    /// optional, each a duration up to <see cref="ConfigLimits.MaxFlowTimeout"/>.</summary>
    public FlowTimeoutsConfig? Read(YamlEntry timeoutsEntry)
    {
        if (!r.TryMapping(timeoutsEntry, out var map)) return null;
        var entries = r.Entries(map, Keys);
        var ok = true;
        var timeouts = FlowTimeoutsConfig.Default;
        ok &= r.OptionalDuration(entries, "tcp_syn", ConfigLimits.MaxFlowTimeout, value => timeouts = timeouts with { TcpSyn = value });
        ok &= r.OptionalDuration(entries, "tcp_established", ConfigLimits.MaxFlowTimeout, value => timeouts = timeouts with { TcpEstablished = value });
        ok &= r.OptionalDuration(entries, "tcp_closing", ConfigLimits.MaxFlowTimeout, value => timeouts = timeouts with { TcpClosing = value });
        ok &= r.OptionalDuration(entries, "udp", ConfigLimits.MaxFlowTimeout, value => timeouts = timeouts with { Udp = value });
        return ok ? timeouts : null;
    }
}
