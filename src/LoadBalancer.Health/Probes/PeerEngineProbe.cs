namespace LoadBalancer.Health.Probes;

/// <summary>A CLUSTERIP peer: first a TCP connect to its engine's heartbeat port, then the service's own check.
/// The application on a node can outlive the node's engine (killed, crashed); without the engine nothing is
/// accepted there any more, so the others must take its share even though the application still answers.</summary>
internal sealed class PeerEngineProbe(int enginePort, IHealthProbe inner) : IHealthProbe
{
    public async Task<ProbeResult> CheckAsync(HealthTarget target, CancellationToken cancellationToken)
    {
        var engine = await ProbeTimeout.RunAsync(target, cancellationToken, async token =>
            await TcpProbe.ConnectAsync(target.Address, enginePort, token).ConfigureAwait(false) is { } error
                ? new ProbeResult(false, $"engine heartbeat (tcp {enginePort}) {ProbeText.Describe(error)}")
                : new ProbeResult(true, "engine heartbeat ok")).ConfigureAwait(false);
        return engine.Ok ? await inner.CheckAsync(target, cancellationToken).ConfigureAwait(false) : engine;
    }
}
