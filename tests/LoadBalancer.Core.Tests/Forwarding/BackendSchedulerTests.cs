using LoadBalancer.Core.Forwarding;
using LoadBalancer.Core.IO;
using LoadBalancer.Core.Model;
using LoadBalancer.Core.Packets;
using LoadBalancer.TestKit;

namespace LoadBalancer.Core.Tests.Forwarding;

/// <summary>New flows of the "pool" DR service under each scheduler and under connection limits, through the real
/// engine (one worker): which backend each SYN reaches, and the counts status reads.</summary>
public class BackendSchedulerTests
{
    private static TestEngine Engine(SchedulerKind scheduler, int pool = 3, Func<int, int>? weight = null,
        Func<ServiceConfig, ServiceConfig>? edit = null)
    {
        var service = Fixtures.Pool(Enumerable.Range(1, pool), weight) with { Scheduler = scheduler };
        return new TestEngine(Fixtures.Config(edit is null ? service : edit(service)));
    }

    private static readonly byte[][] Syns = Fixtures.PoolFlows(600, TcpFlags.Syn);
    private static readonly byte[][] Fins = Fixtures.PoolFlows(600, TcpFlags.Fin | TcpFlags.Ack);

    private static string Open(TestEngine engine, int flow)
    {
        var result = engine.Send(Syns[flow]);
        Assert.Equal(Verdict.Transmit, result.Verdict);
        return engine.BackendOf(result.Output!, "pool");
    }

    private static int Active(TestEngine engine, string backend) =>
        engine.Engine.Load.Active(engine.Service("pool").Backends.Single(b => b.Name == backend).Id);

    private static bool Full(TestEngine engine, string backend)
    {
        var b = engine.Service("pool").Backends.Single(x => x.Name == backend);
        return engine.Engine.Load.Full(b.Id, engine.Engine.Load.Active(b.Id), b.Limit);
    }

    [Fact]
    public void Wlc_TenFlowsOnOneBackend_NextTwentyGoToTheIdleOnes_AndFinsGiveItBack()
    {
        var engine = Engine(SchedulerKind.Wlc);
        var control = engine.Engine.Control;
        control.SetIntent("pool", "pool-2", BackendIntent.Draining);
        control.SetIntent("pool", "pool-3", BackendIntent.Draining);
        for (var f = 0; f < 10; f++) Assert.Equal("pool-1", Open(engine, f));
        control.SetIntent("pool", "pool-2", BackendIntent.Active);
        control.SetIntent("pool", "pool-3", BackendIntent.Active);

        var next = Enumerable.Range(10, 20).Select(f => Open(engine, f)).ToArray();

        Assert.DoesNotContain("pool-1", next);
        Assert.Equal(10, next.Count(b => b == "pool-2"));
        Assert.Equal((10, 10, 10), (Active(engine, "pool-1"), Active(engine, "pool-2"), Active(engine, "pool-3")));

        // The client's FIN takes a flow out of the count at once: the ten on pool-1 end, and it gets the next ones.
        for (var f = 0; f < 10; f++) engine.Send(Fins[f]);
        Assert.Equal(0, Active(engine, "pool-1"));
        Assert.Equal(10, engine.Engine.Load.Held(engine.Service("pool").Backends[0].Id)); // closing, still held
        Assert.Equal("pool-1", Open(engine, 30));
    }

    [Fact]
    public void Wlc_Weights1To2_SixtyFlows_SplitExactly()
    {
        var engine = Engine(SchedulerKind.Wlc, pool: 2, weight: i => i * 50);
        var picks = Enumerable.Range(0, 60).Select(f => Open(engine, f)).ToArray();
        Assert.Equal(20, picks.Count(b => b == "pool-1"));
        Assert.Equal(40, picks.Count(b => b == "pool-2"));
    }

    [Fact]
    public void Wrr_Weights1To1To2_FourHundredFlows_ExactShares()
    {
        var engine = Engine(SchedulerKind.Wrr, pool: 3, weight: i => i == 3 ? 200 : 100);
        var picks = Enumerable.Range(0, 400).Select(f => Open(engine, f)).ToArray();
        Assert.Equal(100, picks.Count(b => b == "pool-1"));
        Assert.Equal(100, picks.Count(b => b == "pool-2"));
        Assert.Equal(200, picks.Count(b => b == "pool-3"));
    }

    [Theory]
    [InlineData(SchedulerKind.Maglev)]
    [InlineData(SchedulerKind.Wlc)]
    [InlineData(SchedulerKind.Wrr)]
    public void Limit5Min3_FullAtFive_BackupTakesTheRest_UntilBelowThree(SchedulerKind scheduler)
    {
        // pool-1 limited to 5 (min 3), pool-2 the backup.
        var engine = Engine(scheduler, pool: 2, edit: s => s with
        {
            Backends = [s.Backends[0] with { MaxConnections = 5, MinConnections = 3 }, s.Backends[1] with { Backup = true }],
        });
        for (var f = 0; f < 5; f++) Assert.Equal("pool-1", Open(engine, f));
        Assert.True(Full(engine, "pool-1"));
        Assert.Equal("pool-2", Open(engine, 5));

        engine.Send(Fins[0]);                         // 4 active: still full
        Assert.Equal(4, Active(engine, "pool-1"));
        Assert.Equal("pool-2", Open(engine, 6));
        Assert.True(Full(engine, "pool-1"));

        engine.Send(Fins[1]);
        engine.Send(Fins[2]);                         // 2 active: strictly below min
        Assert.Equal("pool-1", Open(engine, 7));
        Assert.False(Full(engine, "pool-1"));
        Assert.Equal(3, Active(engine, "pool-1"));
    }

    [Fact]
    public void Maglev_WithALimit_KnownFlowsStay_NewFlowsOfTheFullBackendGoElsewhere()
    {
        var engine = Engine(SchedulerKind.Maglev, pool: 3, edit: s => s with
        {
            Backends = [s.Backends[0] with { MaxConnections = 2 }, s.Backends[1], s.Backends[2]],
        });
        var picks = Enumerable.Range(0, 60).Select(f => Open(engine, f)).ToArray();
        Assert.Equal(2, picks.Count(b => b == "pool-1"));
        Assert.Equal(2, Active(engine, "pool-1"));
        // The two it holds keep it: a known flow is never moved by a limit.
        var acks = Fixtures.PoolFlows(600);
        for (var f = 0; f < 60; f++)
            Assert.Equal(picks[f], engine.BackendOf(engine.Send(acks[f]).Output!, "pool"));
    }

    [Theory]
    [InlineData(AllDownAction.Drop)]
    [InlineData(AllDownAction.UseAll)]
    public void EveryBackendFull_NoBackup_WhenAllDownDecides(AllDownAction whenAllDown)
    {
        var engine = Engine(SchedulerKind.Wlc, pool: 2, edit: s => s with
        {
            WhenAllDown = whenAllDown,
            Backends = [s.Backends[0] with { MaxConnections = 1 }, s.Backends[1] with { MaxConnections = 1 }],
        });
        Open(engine, 0);
        Open(engine, 1);

        var third = engine.Send(Syns[2]);

        if (whenAllDown == AllDownAction.Drop) Assert.Equal(DropReason.BackendsFull, third.Drop);
        else Assert.Equal(Verdict.Transmit, third.Verdict);
    }

    [Fact]
    public void Wrr_BackendWeightAtRuntime_ChangesTheShares()
    {
        var engine = Engine(SchedulerKind.Wrr, pool: 2);
        engine.Engine.Control.SetWeight("pool", "pool-2", 300);

        var picks = Enumerable.Range(0, 400).Select(f => Open(engine, f)).ToArray();

        Assert.Equal(100, picks.Count(b => b == "pool-1"));
        Assert.Equal(300, picks.Count(b => b == "pool-2"));
    }

    [Fact]
    public void Reload_SchedulerAndLimit_TakeEffectForNewFlows_KnownFlowsStay()
    {
        var engine = Engine(SchedulerKind.Maglev, pool: 2);
        var first = Enumerable.Range(0, 20).Select(f => Open(engine, f)).ToArray();
        var config = engine.Config with
        {
            Services = engine.Config.Services.Select(s => s.Name != "pool" ? s : s with
            {
                Scheduler = SchedulerKind.Wlc,
                Backends = [s.Backends[0] with { MaxConnections = 1 }, s.Backends[1]],
            }).ToArray(),
        };

        var result = engine.Engine.Reload(config);

        Assert.True(result.Ok, string.Join("; ", result.Refusals));
        Assert.Equal(SchedulerKind.Wlc, engine.Service("pool").Scheduler);
        Assert.True(engine.Service("pool").HasLimits);
        var acks = Fixtures.PoolFlows(600);
        for (var f = 0; f < 20; f++) Assert.Equal(first[f], engine.BackendOf(engine.Send(acks[f]).Output!, "pool"));
        // pool-1 holds more than its new limit of 1: full, so every new flow goes to pool-2.
        Assert.All(Enumerable.Range(20, 10), f => Assert.Equal("pool-2", Open(engine, f)));
    }
}
