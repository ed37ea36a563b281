using System.Net;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Core.Model;

public enum ForwardingMode
{
    DirectRouting,
}

public enum TransportProtocol : byte
{
    Tcp = IpProtocols.Tcp,
    Udp = IpProtocols.Udp,
}

/// <summary>The configuration exactly as the operator wrote it (after validation). Line numbers are
/// kept so later errors (at runtime, too) can point at the file.</summary>
public sealed record BalancerConfig
{
    public const string DefaultControlSocket = "/run/lb/lb.sock";
    public const uint DefaultHashSeed = 0x5EED;
    public const int DefaultFlowTableSize = 1 << 20;

    public uint HashSeed { get; init; } = DefaultHashSeed;
    public int Workers { get; init; } = 1;
    public string ControlSocket { get; init; } = DefaultControlSocket;
    public int FlowTableSize { get; init; } = DefaultFlowTableSize;
    public int MaglevTableSize { get; init; } = Scheduling.MaglevTable.DefaultSize;
    public IReadOnlyList<ServiceConfig> Services { get; init; } = [];
    public string? SourcePath { get; init; }
}

public sealed record ServiceConfig
{
    public required string Name { get; init; }
    public required IPAddress Vip { get; init; }
    public required ushort Port { get; init; }
    public TransportProtocol Protocol { get; init; } = TransportProtocol.Tcp;
    public ForwardingMode Mode { get; init; } = ForwardingMode.DirectRouting;
    public required string Interface { get; init; }
    public string? BackendInterface { get; init; }
    public IReadOnlyList<BackendConfig> Backends { get; init; } = [];
    public int Line { get; init; }

    public string EffectiveBackendInterface => BackendInterface ?? Interface;
}

public sealed record BackendConfig
{
    public const int DefaultWeight = 100;

    public required string Name { get; init; }
    public required IPAddress Address { get; init; }
    public int Weight { get; init; } = DefaultWeight;
    public MacAddress? Mac { get; init; }
    public int Line { get; init; }
}

public static class ModeNames
{
    public static string Name(ForwardingMode mode) => mode switch
    {
        ForwardingMode.DirectRouting => "dr",
        _ => mode.ToString().ToLowerInvariant(),
    };

    public static string Name(TransportProtocol protocol) => protocol == TransportProtocol.Tcp ? "tcp" : "udp";
}
