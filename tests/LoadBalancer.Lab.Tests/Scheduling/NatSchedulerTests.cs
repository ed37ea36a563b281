using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Scheduling;

/// <summary>Connection limits over NAT sessions (the counts come from the session tables, two workers): the limited
/// backend hands over to the backup at its max and takes new connections again below its min.</summary>
public sealed class NatSchedulerTests
{
    [LabFact]
    public void Nat_Limit3_FullAtThree_TheBackupTakesTheNext_BelowMinItTakesNewOnesAgain()
    {
        using var lab = NamespaceLab.UpNat(2);
        var config = lab.WriteNatConfig(ipv6: false);
        var text = File.ReadAllText(config).Replace("workers: 1", "workers: 2", StringComparison.Ordinal);
        // web only (the first service): wlc, rs1 limited to 3 (min left to its default, 2), rs2 the backup.
        var web = text.IndexOf("  - name: upload", StringComparison.Ordinal);
        text = text[..web]
            .Replace("    backends:\n", "    scheduler: wlc\n    backends:\n", StringComparison.Ordinal)
            .Replace("address: 10.99.4.11}", "address: 10.99.4.11, max_connections: 3}", StringComparison.Ordinal)
            .Replace("port: 8081}", "port: 8081, backup: true}", StringComparison.Ordinal) + text[web..];
        File.WriteAllText(config, text);
        using var engine = EngineProcess.Start(lab, config, Path.Combine(lab.Dir, "lb.sock"));

        var held = new List<HeldConnection>();
        try
        {
            for (var i = 0; i < 3; i++) held.Add(new HeldConnection(lab));
            Dictionary<string, (int Active, bool Full)> counts = [];
            Retry.Until(() => (counts = SchedulerLab.Counts(engine))["rs1"].Active == 3, TimeSpan.FromSeconds(10), "rs1 holding 3 sessions");
            Assert.True(counts["rs1"].Full);
            Assert.Equal(["rs2"], lab.Connect(1));

            held[0].Dispose();
            held[1].Dispose();
            Retry.Until(() => (counts = SchedulerLab.Counts(engine))["rs1"].Active == 1, TimeSpan.FromSeconds(10), "rs1 down to 1");
            Assert.False(counts["rs1"].Full);
            Assert.Equal(["rs1"], lab.Connect(1));
        }
        finally
        {
            foreach (var h in held) h.Dispose();
        }
    }
}
