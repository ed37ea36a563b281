using System.Text.RegularExpressions;

namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>Reading iputils' arping: one "reply from IP [MAC]" line per answer.</summary>
public static partial class Arping
{
    /// <summary>The answering MACs, lower case, in the order the replies came.</summary>
    public static string[] ReplyMacs(string output) =>
        ReplyLine().Matches(output).Select(m => m.Groups[1].Value.ToLowerInvariant()).ToArray();

    [GeneratedRegex(@"reply from [0-9.]+ \[([0-9A-Fa-f:]{17})\]")]
    private static partial Regex ReplyLine();
}
