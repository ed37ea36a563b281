namespace LoadBalancer.Hosting;

/// <summary>One of the data path's thread loops (a worker, an interface's ARP or neighbour discovery) as readiness and the service manager's
/// watchdog see it: its thread's name and how many times it has gone round (<see cref="Core.Forwarding.ForwardingWorker.Rounds"/>).
/// A loop goes round at least once per poll timeout with no traffic, so a count that stands still means it is stuck
/// or its thread has ended.</summary>
public sealed record EngineLoop(string Name, Func<long> Rounds);
