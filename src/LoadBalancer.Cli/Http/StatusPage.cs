namespace LoadBalancer.Cli.Http;

/// <summary>The status page: one self-contained HTML document (no external scripts or fonts: balancers have no
/// internet), embedded in the binary, that fetches <c>/status.json</c> every 2 s and redraws itself.</summary>
internal static class StatusPage
{
    public static readonly string Html = Load();

    private static string Load()
    {
        using var stream = typeof(StatusPage).Assembly.GetManifestResourceStream("LoadBalancer.Cli.Http.status.html")
                           ?? throw new InvalidOperationException("the status page is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
