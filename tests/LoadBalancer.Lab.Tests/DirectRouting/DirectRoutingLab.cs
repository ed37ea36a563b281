using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.DirectRouting;

/// <summary>One DR lab (two real servers) and engine shared by the DR tests of a class.</summary>
public sealed class DirectRoutingLab() : EngineLab(() => NamespaceLab.Up(2), lab => lab.WriteDrConfig());
