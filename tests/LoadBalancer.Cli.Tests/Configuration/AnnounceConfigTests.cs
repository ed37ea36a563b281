using LoadBalancer.Core.Model;

using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary>The <c>announce:</c> section and a service's <c>arp</c> and <c>announce</c> keys.</summary>
public class AnnounceConfigTests
{
    private static string WithService(string top, string serviceKeys) =>
        Minimal(top).Replace("    interface: eth0\n", "    interface: eth0\n" + serviceKeys);

    [Fact]
    public void Parse_AnnouncedRoutedService_LoadsTableArpAndAnnounce()
    {
        var config = Load(WithService("announce:\n  table: 100", "    arp: false\n    announce: true\n"));
        Assert.Equal(100, config.Announce!.Table);
        Assert.Equal(1, config.Announce.Line);
        var web = Assert.Single(config.Services);
        Assert.False(web.Arp);
        Assert.True(web.Announce);
    }

    [Fact]
    public void Parse_Defaults_ArpOnNothingAnnounced()
    {
        var config = Load(Minimal());
        Assert.Null(config.Announce);
        Assert.True(config.Services[0].Arp);
        Assert.False(config.Services[0].Announce);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("253")]
    [InlineData("254")]
    [InlineData("255")]
    [InlineData("main")]
    public void Parse_TableOutsideOneTo252_Refused(string table) =>
        AssertSingleError(Minimal($"announce:\n  table: {table}"),
            $"lb.yaml:2: table must be a routing table number from 1 to 252 (253 default, 254 main and 255 local are the kernel's own; got '{table}')");

    [Fact]
    public void Parse_AnnounceWithoutTable_Refused() =>
        AssertSingleError(Minimal("announce: {}"), "lb.yaml:1: missing required key 'table'");

    [Fact]
    public void Parse_ServiceAnnouncedWithoutTheSection_RefusedWithItsLine() =>
        AssertSingleError(WithService("", "    announce: true\n"),
            "lb.yaml:7: announce: true needs a top-level 'announce:' section (the routing table to announce into)");
}
