using LoadBalancer.Core.Flows;
using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding;

/// <summary>An idle worker still lets go of flows that timed out: its sweep goes round every table once per
/// <see cref="WorkerState.SweepPeriodMs"/>, so a count never lags a timeout by more than that.</summary>
public class WorkerSweepTests
{
    [Fact]
    public void IdleRounds_FreeTimedOutFlows_WithinOneSweepPeriod()
    {
        var engine = new TestEngine(Fixtures.Config());
        foreach (var syn in Fixtures.PoolFlows(300, TcpFlags.Syn)) engine.Send(syn);
        var pool = engine.Service("pool").Backends.Select(b => b.Id).ToArray();
        Assert.Equal(300, pool.Sum(engine.Engine.Load.Held));

        engine.Clock.Advance(FlowTimeouts.Default.TcpSynMs + 1);
        engine.Idle(); // the first round after the wait sweeps a table's worth of time: everything expired goes
        Assert.Equal(0, pool.Sum(engine.Engine.Load.Held));
        Assert.Equal(0, engine.Flows.Held);
    }

    [Fact]
    public void Sweep_PacedByTime_AWholeTurnPerPeriod()
    {
        var engine = new TestEngine(Fixtures.Config());
        foreach (var syn in Fixtures.PoolFlows(300, TcpFlags.Syn)) engine.Send(syn);
        var expiresAt = engine.Clock.NowMs + FlowTimeouts.Default.TcpSynMs + 1;

        // Rounds 10 ms apart: each sweeps a hundredth of the table. Before the flows expire nothing goes; one round
        // after, most are still held; a period later none is.
        while (engine.Clock.NowMs + 10 < expiresAt)
        {
            engine.Clock.Advance(10);
            engine.Idle();
        }
        Assert.Equal(300, engine.Flows.Held);
        engine.Clock.NowMs = expiresAt;
        engine.Idle();
        Assert.InRange(engine.Flows.Held, 150, 300);
        for (var t = 0; t < WorkerState.SweepPeriodMs / 10; t++)
        {
            engine.Clock.Advance(10);
            engine.Idle();
        }
        Assert.Equal(0, engine.Flows.Held);
    }
}
