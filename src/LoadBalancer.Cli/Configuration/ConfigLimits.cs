namespace LoadBalancer.Cli.Configuration;

/// <summary>The ranges the config accepts (the section readers report values outside them), in one place so
/// the control socket's <c>backend weight</c> and the docs use the same ones.</summary>
public static class ConfigLimits
{
    /// <summary>Config files larger than this are refused before parsing (a config is a few KiB).</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;
    /// <summary>Lists and mappings nested deeper than this are refused while parsing, aliases expanded (a config
    /// nests 5 deep: root, services, a service, backends, a backend).</summary>
    public const int MaxNestingDepth = 64;
    /// <summary>The nodes all the aliases of a config may stand for together, each alias counted as the node it
    /// names with every alias in that expanded too: a pool of 50 backends aliased by 200 services is 70,000;
    /// aliases of aliases multiply, so a few KiB of them can stand for billions.</summary>
    public const int MaxAliasedNodes = 100_000;

    public const int MinWorkers = 1, MaxWorkers = 64;
    /// <summary>Routing tables an engine may announce into: 253 (default), 254 (main) and 255 (local) are the kernel's.</summary>
    public const int MinAnnounceTable = 1, MaxAnnounceTable = 252;
    public const int MinFlowTableSize = 1024, MaxFlowTableSize = 64 * 1024 * 1024;
    public const int MinSessionTableSize = 16, MaxSessionTableSize = 64 * 1024 * 1024;
    public const int MinNewFlowRate = 1, MaxNewFlowRate = 100_000_000;
    public const int MinMaglevTableSize = 251, MaxMaglevTableSize = 1_000_003;
    public const int MinWeight = 0, MaxWeight = 1_000_000;
    /// <summary>A backend's <c>max_connections</c> and <c>min_connections</c>, in active flows: ten million is beyond
    /// what one real server holds open. No limit is written by leaving max_connections out, not as 0.</summary>
    public const int MinConnectionLimit = 1, MaxConnectionLimit = 10_000_000;
    /// <summary>UMEM frames per worker under <c>io: af_xdp</c>: at least twice the fill ring (2048), so frames waiting
    /// in the RX and TX rings never leave the fill ring empty; at most 1 GiB of 2 KiB frames.</summary>
    public const int MinXdpFrames = 4096, MaxXdpFrames = 1 << 19;
    public const int MinNodeId = 1, MaxNodeId = 255;
    public const int MinRiseFall = 1, MaxRiseFall = 100;
    public static readonly TimeSpan MaxHealthInterval = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaxFlowTimeout = TimeSpan.FromDays(7);
    public const int MinGarpCount = 0, MaxGarpCount = 100;
    public static readonly TimeSpan MaxGarpInterval = TimeSpan.FromMinutes(1);

    /// <summary>The largest UDP payload in an IPv4 datagram (65535 - 20 - 8).</summary>
    public const int MaxUdpPayloadBytes = 65507;

    /// <summary>sun_path is 108 bytes including the terminating NUL.</summary>
    public const int MaxUnixSocketPathBytes = 107;
}
