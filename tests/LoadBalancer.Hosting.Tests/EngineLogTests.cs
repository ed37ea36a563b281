using System.Text.RegularExpressions;
using LoadBalancer.Hosting;

namespace LoadBalancer.Hosting.Tests;

/// <summary>The control plane's log lines: as they always were on a terminal or file, with their syslog priority
/// first when stderr is the journal.</summary>
public class EngineLogTests
{
    private static string[] Lines(bool journal, Action<EngineLog> write)
    {
        var writer = new StringWriter();
        write(new EngineLog(writer, journal));
        return writer.ToString().Split(writer.NewLine, StringSplitOptions.RemoveEmptyEntries);
    }

    private static void Each(EngineLog log)
    {
        log.Error("e");
        log.Warn("w");
        log.BackendDown("health web: rs1 unhealthy: tcp refused after 2/2 failures");
        log.Info("i");
        log.Line(LogPriority.Error, "lb.yaml:3: bad");
    }

    [Fact]
    public void Lines_Journal_StartWithTheirSyslogPriority()
    {
        var lines = Lines(journal: true, Each);

        Assert.Equal(["<3>", "<4>", "<4>", "<6>", "<3>"], lines.Select(l => l[..3]));
        Assert.Matches(@"^<3>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error e$", lines[0]);
        // A backend going down reads as the other health changes do, but is a warning to the journal.
        Assert.EndsWith(" info health web: rs1 unhealthy: tcp refused after 2/2 failures", lines[2]);
        Assert.Equal("<3>lb.yaml:3: bad", lines[4]);
    }

    [Fact]
    public void Lines_NotJournal_AreUnchanged()
    {
        var lines = Lines(journal: false, Each);

        Assert.Equal(5, lines.Length);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error e$", lines[0]);
        Assert.Matches(@"^\S+Z warning w$", lines[1]);
        Assert.Matches(@"^\S+Z info health web: rs1 unhealthy: ", lines[2]);
        Assert.Matches(@"^\S+Z info i$", lines[3]);
        Assert.Equal("lb.yaml:3: bad", lines[4]);
        Assert.DoesNotContain(lines, l => Regex.IsMatch(l, "^<[0-7]>"));
    }

    [Fact]
    public void Line_Journal_MessageOfSeveralLines_EachLineCarriesThePriority()
    {
        var lines = Lines(journal: true, log => log.Warn("first\nsecond"));

        Assert.Equal(2, lines.Length);
        Assert.StartsWith("<4>", lines[0]);
        Assert.Equal("<4>second", lines[1]);
    }
}
