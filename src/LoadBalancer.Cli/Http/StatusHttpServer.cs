using System.Net;
using LoadBalancer.Cli.Control;
using LoadBalancer.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LoadBalancer.Cli.Http;

/// <summary>The engine's optional HTTP listener (<c>http: {listen: ...}</c>), on Kestrel: <c>/metrics</c> (the
/// Prometheus text format, <see cref="MetricsExposition"/>), <c>/status.json</c> (exactly <c>lb status --json</c>)
/// and <c>/</c> (the status page, <see cref="StatusPage"/>). Read-only: it serves GET and HEAD and changes nothing.
/// Runs on its own threads; what it reads, it reads as <c>lb status</c> does, taking no lock a worker takes.</summary>
internal sealed class StatusHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private StatusHttpServer(WebApplication app) => _app = app;

    /// <summary>Binds <paramref name="listen"/> and starts serving; throws (<see cref="IOException"/>) when the
    /// address cannot be bound.</summary>
    public static StatusHttpServer Start(IPEndPoint listen, Engine engine, EngineLog log)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // The engine's log is its own; Kestrel's request logging would drown it.
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(listen);
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 0;
        });
        var app = builder.Build();
        var metrics = new MetricsExposition();
        app.MapMethods("/metrics", ["GET", "HEAD"], async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.WriteAsync(StatusReport.Json(engine), context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });
        app.MapMethods("/status.json", ["GET", "HEAD"], (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            return Results.Text(StatusReport.Json(engine), "application/json; charset=utf-8");
        });
        app.MapMethods("/", ["GET", "HEAD"], () => Results.Text(StatusPage.Html, "text/html; charset=utf-8"));
        try
        {
            app.StartAsync().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            throw new IOException($"http: cannot listen on {listen}: {e.Message}", e);
        }
        log.Info($"http: serving /metrics, /status.json and the status page on http://{Format(listen)}/");
        return new StatusHttpServer(app);
    }

    private static string Format(IPEndPoint e) => e.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{e.Address}]:{e.Port}" : e.ToString();

    public async ValueTask DisposeAsync()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(bound.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
