using LoadBalancer.Cli.Configuration;
using LoadBalancer.Core.Model;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary>What the config tests need to parse YAML text and look at the result or its error lines.</summary>
internal static class ConfigParsing
{
    public const string Source = "lb.yaml";

    /// <summary>A valid config with one service, <paramref name="top"/> on line 1: services on line 2,
    /// the service on line 3 (vip 4, port 5, interface 6, backends 7), its backend on line 8 (address 9).</summary>
    public static string Minimal(string top = "") =>
        $"""
        {top}
        services:
          - name: web
            vip: 10.99.0.100
            port: 80
            interface: eth0
            backends:
              - name: web1
                address: 10.99.1.11
        """;

    /// <summary>Parses a config that must be valid.</summary>
    public static BalancerConfig Load(string yaml) => AssertValid(ConfigLoader.Parse(yaml, Source));

    public static ServiceConfig LoadService(string yaml) => Assert.Single(Load(yaml).Services);

    /// <summary>Parses a config that must be refused; its errors as <c>FILE:LINE: message</c>.</summary>
    public static string[] Errors(string yaml) => Lines(ConfigLoader.Parse(yaml, Source));

    /// <summary>Parses a config that must be refused with exactly <paramref name="expected"/>.</summary>
    public static void AssertSingleError(string yaml, string expected) => Assert.Equal([expected], Errors(yaml));

    /// <summary>The config of a result that must be valid.</summary>
    public static BalancerConfig AssertValid(ConfigLoadResult result)
    {
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        Assert.True(result.IsValid);
        return result.Config!;
    }

    /// <summary>The errors of a result that must be refused, as <c>FILE:LINE: message</c>.</summary>
    public static string[] Lines(ConfigLoadResult result)
    {
        Assert.Null(result.Config);
        Assert.False(result.IsValid);
        return result.Errors.Select(e => e.ToString()).ToArray();
    }

    /// <summary>Each line of <paramref name="text"/> on a new line, indented.</summary>
    public static string Indent(string text, int spaces) =>
        text.Length == 0 ? "" : string.Concat(text.Split('\n').Select(l => "\n" + new string(' ', spaces) + l));
}
