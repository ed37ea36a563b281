using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Nat;

/// <summary>One NAT lab (two real servers) and engine shared by the NAT tests of a class.</summary>
public sealed class NatLab() : EngineLab(() => NamespaceLab.UpNat(2), lab => lab.WriteNatConfig());

/// <summary>The same lab with the engine on AF_XDP (<c>io: af_xdp</c>): IPv4 services only, which is what the port
/// carries so far.</summary>
public sealed class NatXdpLab() : EngineLab(() => NamespaceLab.UpNat(2), lab => ConfigFiles.WithTopLevel(lab.WriteNatConfig("lb-xdp.yaml", ipv6: false), "io: af_xdp"));
