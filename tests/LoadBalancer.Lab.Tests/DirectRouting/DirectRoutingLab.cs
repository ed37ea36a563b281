using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.DirectRouting;

/// <summary>One DR lab (two real servers) and engine shared by the DR tests of a class.</summary>
public sealed class DirectRoutingLab() : EngineLab(() => NamespaceLab.Up(2), lab => lab.WriteDrConfig());

/// <summary>The same lab with the engine on AF_XDP (<c>io: af_xdp</c>): IPv4 services only, which is what the port
/// carries so far.</summary>
public sealed class DirectRoutingXdpLab() : EngineLab(() => NamespaceLab.Up(2), lab => ConfigFiles.WithTopLevel(lab.WriteDrConfig("lb-xdp.yaml", ipv6: false), "io: af_xdp"));
