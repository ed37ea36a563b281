using System.Net;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Health;

/// <summary>One backend of one service to probe. <paramref name="Port"/> is the port actually probed
/// (<see cref="HealthCheckConfig.Port"/> when set, else the service port): the caller resolves it, so
/// probes never need the service. <paramref name="EnginePort"/>, for a CLUSTERIP peer, is its engine's
/// heartbeat port: connected to first, so a peer whose engine is not running fails whatever its check says.</summary>
public sealed record HealthTarget(string Service, string Backend, IPAddress Address, int Port, HealthCheckConfig Check, int? EnginePort = null);
