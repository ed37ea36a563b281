using System.Net;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Health;

/// <summary>One backend of one service to probe. <paramref name="Port"/> is the port actually probed
/// (<see cref="HealthCheckConfig.Port"/> when set, else the service port): the caller resolves it, so
/// probes never need the service.</summary>
public sealed record HealthTarget(string Service, string Backend, IPAddress Address, int Port, HealthCheckConfig Check);
