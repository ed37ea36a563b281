using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Nat;

/// <summary>One NAT lab (two real servers) and engine shared by the NAT tests of a class.</summary>
public sealed class NatLab() : EngineLab(() => NamespaceLab.UpNat(2), lab => lab.WriteNatConfig());
