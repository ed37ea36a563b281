using System.Globalization;
using System.Text.RegularExpressions;

namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>The balancer's own address still belongs to its kernel: what an engine that takes frames before the
/// kernel (the AF_XDP port's program) must leave alone.</summary>
public static class HostTraffic
{
    /// <summary>From <paramref name="fromNs"/>: an ICMP echo to <paramref name="address"/> is answered, and a TCP
    /// connection to a port where nothing listens is refused by the kernel (a RST: curl's "failed to connect", rc 7),
    /// not swallowed.</summary>
    public static void AssertKernelAnswers(NamespaceLab lab, string fromNs, string address)
    {
        var echo = lab.In(fromNs, $"hping3 --icmp -c 3 -i u100000 {address} 2>&1", 30);
        var received = Regex.Match(echo.Stdout, @"(\d+) packets received");
        Assert.True(received.Success && int.Parse(received.Groups[1].Value, CultureInfo.InvariantCulture) >= 2, echo.Output);
        var refused = lab.In(fromNs, $"curl -s --max-time 3 http://{address}:22/; echo rc=$?", 30);
        Assert.Contains("rc=7", refused.Stdout);
    }
}
