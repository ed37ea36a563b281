namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary>Documents made to exhaust a YAML reader, each with the one error (line and message) it must be
/// refused with, for the parse tests and for the tests that run <c>lb</c> on them as a child process.</summary>
internal static class HostileYaml
{
    /// <summary>The classic "billion laughs": nine levels of anchors, each a list of nine aliases of the one before,
    /// so <c>*i</c> would stand for 9^9 scalars. Counted: <c>a</c> is 10 nodes, <c>b</c> 1 + 9 × 10 = 91, c 820,
    /// d 7381, e 66430; the aliases in b to e stand for 74718 nodes, so the first <c>*e</c> (line 6) brings them
    /// to 141148, past 100000.</summary>
    public static readonly string BillionLaughs = string.Join('\n',
    [
        "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
        .. "bcdefghi".Select((name, i) => $"{name}: &{name} [{string.Join(", ", Enumerable.Repeat($"*{(char)('a' + i)}", 9))}]"),
        "services: *i",
    ]) + "\n";

    public static readonly (int Line, string Message) BillionLaughsError =
        (6, "aliases stand for more than 100000 nodes in all, 141148 with *e here (aliases of aliases multiply); write the repeated parts out instead");

    public const int PoolSize = 1000, ServiceAliases = 600;

    /// <summary>About 10 KB: a service whose pool of backends is one backend and <see cref="PoolSize"/> - 1 aliases of
    /// it, then <see cref="ServiceAliases"/> aliases of that service, 600,000 backends to read (and two errors to
    /// collect for each) if the aliases were walked. Counted: a backend is 5 nodes (its mapping, two keys, two values),
    /// so the pool's 999 aliases stand for 4995; the pool is 1 + 5 × 1000 = 5001 nodes and the service 5011 (its
    /// mapping, five keys, four values and the pool); 4995 + 19 × 5011 = 100204 is past 100000 at the 19th
    /// <c>*svc</c>, line 21.</summary>
    public static readonly string AliasedServicesAndBackends =
        "services:\n" +
        "  - &svc {name: web, vip: 10.99.0.100, port: 80, interface: eth0, backends: &pool [&b {name: web1, address: 10.99.1.11}" +
        string.Concat(Enumerable.Repeat(", *b", PoolSize - 1)) + "]}\n" +
        string.Concat(Enumerable.Repeat("  - *svc\n", ServiceAliases));

    public static readonly (int Line, string Message) AliasedServicesAndBackendsError =
        (21, "aliases stand for more than 100000 nodes in all, 100204 with *svc here (aliases of aliases multiply); write the repeated parts out instead");

    /// <summary>100,000 nested flow lists on one line: before the nesting limit, this overflowed the stack of the
    /// representation model (which recurses per level) and killed the process.</summary>
    public static readonly string DeepNesting = "services: " + new string('[', 100_000) + new string(']', 100_000) + "\n";

    public static readonly (int Line, string Message) DeepNestingError = (1, "lists and mappings nest deeper than 64 levels here");
}
