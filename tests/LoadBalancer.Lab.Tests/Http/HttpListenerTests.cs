using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using LoadBalancer.Lab.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LoadBalancer.Lab.Tests.Http;

/// <summary>A DR lab whose engine serves <c>http: {listen: 127.0.0.1:9150}</c> in the balancer's namespace, web on
/// two nginx servers with http checks every 300 ms (fall 2).</summary>
public sealed class HttpLab : IDisposable
{
    public const string Listen = "127.0.0.1:9150";

    public HttpLab() => Lab = NamespaceLab.Up(2);

    public NamespaceLab Lab { get; }
    public string Socket => Path.Combine(Lab.Dir, "http.sock");

    /// <param name="notify">The web service's notify script, if any.</param>
    public EngineProcess Start(string? notify = null)
    {
        var config = Path.Combine(Lab.Dir, "http.yaml");
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"workers: 1\ncontrol_socket: {Socket}\nhttp:\n  listen: {Listen}\nservices:\n");
        sb.Append(CultureInfo.InvariantCulture, $"  - name: web\n    vip: {Lab.Vip}\n    port: 80\n    protocol: tcp\n    mode: dr\n    interface: {Lab.BalancerIf}\n");
        if (notify is not null) sb.Append(CultureInfo.InvariantCulture, $"    notify: {notify}\n");
        sb.Append("    health: {type: http, interval: 300ms, timeout: 250ms, rise: 1, fall: 2}\n    backends:\n");
        for (var i = 1; i <= 2; i++) sb.Append(CultureInfo.InvariantCulture, $"      - {{name: rs{i}, address: 10.99.1.{10 + i}}}\n");
        File.WriteAllText(config, sb.ToString());
        var engine = EngineProcess.Start(Lab, config, Socket);
        Retry.Until(() => Health(engine, "rs1") == "healthy" && Health(engine, "rs2") == "healthy", TimeSpan.FromSeconds(10), "both backends healthy");
        return engine;
    }

    public static string? Health(EngineProcess engine, string backend)
    {
        using var s = engine.Status();
        return s.RootElement.GetProperty("services")[0].GetProperty("backends").EnumerateArray()
            .First(b => b.GetProperty("name").GetString() == backend).GetProperty("health").GetString();
    }

    /// <summary>Real server <paramref name="i"/>'s nginx stopped or started, by the lab's own lab_server_stop/start.</summary>
    public void Server(int i, bool running)
    {
        var r = NamespaceLab.Topology($"lab_set_env {Lab.Prefix}; lab_server_{(running ? "start" : "stop")} {i}");
        if (r.ExitCode != 0 && !running) throw new InvalidOperationException(r.Output);
    }

    /// <summary>GET <paramref name="path"/> from the listener, inside the balancer's namespace.</summary>
    public CommandResult Get(string path) => Lab.In(Lab.BalancerNs, $"curl -sf --noproxy '*' --max-time 5 http://{Listen}{path}");

    public void Dispose() => Lab.Dispose();
}

/// <summary>The HTTP listener against real clients: promtool, a real Prometheus scraping it, headless Chromium
/// reading the status page.</summary>
public sealed class HttpListenerTests(HttpLab lab, ITestOutputHelper output) : IClassFixture<HttpLab>
{
    [LabFact]
    public void Metrics_PromtoolClean_PrometheusReadsWhatStatusSays_AndAStoppedBackendTurnsUnhealthy()
    {
        using var engine = lab.Start();
        var net = lab.Lab;
        var traffic = net.InClientBackground($"for i in $(seq 60); do curl -s --noproxy '*' --max-time 2 -o /dev/null http://{net.Vip}/; done");
        var metrics = lab.Get("/metrics");
        Assert.True(metrics.ExitCode == 0, metrics.Output);
        var check = Shell.Run("promtool", ["check", "metrics"], TimeSpan.FromSeconds(20), stdin: metrics.Stdout);
        Assert.True(check.ExitCode == 0 && check.Output.Trim().Length == 0, $"promtool: {check.Output}");
        traffic();

        var dir = Path.Combine(net.Dir, "prometheus");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "prometheus.yml"),
            $"global: {{scrape_interval: 1s, scrape_timeout: 900ms}}\nscrape_configs:\n  - job_name: lb\n    static_configs:\n      - targets: ['{HttpLab.Listen}']\n");
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", net.BalancerNs, "prometheus", $"--config.file={dir}/prometheus.yml", $"--storage.tsdb.path={dir}/data",
                     "--web.listen-address=127.0.0.1:9090" })
            psi.ArgumentList.Add(a);
        using var prometheus = Process.Start(psi)!;
        _ = prometheus.StandardOutput.ReadToEndAsync();
        _ = prometheus.StandardError.ReadToEndAsync();
        try
        {
            Retry.Until(() => Query("up{job=\"lb\"}").Values.Contains(1), TimeSpan.FromSeconds(30), "Prometheus scraping the engine");
            // Traffic has stopped: within a scrape or two Prometheus holds exactly what status says.
            using var status = engine.Status();
            var expected = status.RootElement.GetProperty("services")[0].GetProperty("backends").EnumerateArray()
                .ToDictionary(b => b.GetProperty("name").GetString()!, b => (double)b.GetProperty("packets").GetInt64());
            Assert.True(expected.Values.Sum() > 0, "no traffic reached the backends");
            Retry.Until(() =>
            {
                var got = Query("lb_backend_packets_total{service=\"web\"}");
                return expected.All(e => got.TryGetValue(e.Key, out var v) && v == e.Value);
            }, TimeSpan.FromSeconds(10), "Prometheus's lb_backend_packets_total equal to status");
            output.WriteLine($"status packets: {string.Join(", ", expected.Select(e => $"{e.Key} {e.Value}"))}");

            lab.Server(2, running: false);
            var clock = Stopwatch.StartNew();
            Retry.Until(() => Query("lb_backend_health{service=\"web\",state=\"unhealthy\"}").TryGetValue("rs2", out var v) && v == 1,
                TimeSpan.FromSeconds(10), "Prometheus seeing rs2 unhealthy");
            output.WriteLine($"rs2 unhealthy in Prometheus {clock.Elapsed.TotalSeconds:F2} s after nginx stopped (fall 2 x 300 ms + a 1 s scrape)");
            Assert.Equal("unhealthy", HttpLab.Health(engine, "rs2"));
        }
        finally
        {
            prometheus.Kill();
            prometheus.WaitForExit(5000);
            lab.Server(2, running: true);
        }
    }

    [LabFact]
    public async Task StatusPage_InHeadlessChromium_ShowsEveryBackend_AndADownBackendWithoutAReload()
    {
        using var engine = lab.Start();
        var net = lab.Lab;
        var json = lab.Get("/status.json");
        Assert.True(json.ExitCode == 0 && JsonDocument.Parse(json.Stdout).RootElement.GetProperty("services")[0].GetProperty("name").GetString() == "web", json.Output);
        // Traffic for the page's chart while the test runs (bounded: 150 requests).
        var traffic = net.InClientBackground($"for i in $(seq 150); do curl -s --noproxy '*' --max-time 2 -o /dev/null http://{net.Vip}/; sleep 0.03; done");
        var profile = Path.Combine(net.Dir, "chromium");
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", net.BalancerNs, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     $"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=9222", "--window-size=1280,900",
                     $"http://{HttpLab.Listen}/" })
            psi.ArgumentList.Add(a);
        using var chromium = Process.Start(psi)!;
        _ = chromium.StandardOutput.ReadToEndAsync();
        _ = chromium.StandardError.ReadToEndAsync();
        // DevTools listens on the balancer namespace's loopback; socat carries it to a unix socket the test can open.
        var devtoolsSocket = Path.Combine(net.Dir, "devtools.sock");
        var relayStart = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", net.BalancerNs, "socat", $"UNIX-LISTEN:{devtoolsSocket},fork,unlink-early", "TCP:127.0.0.1:9222" })
            relayStart.ArgumentList.Add(a);
        using var relay = Process.Start(relayStart)!;
        _ = relay.StandardError.ReadToEndAsync();
        try
        {
            string? socketUrl = null;
            Retry.Until(() => (socketUrl = PageSocket()) is not null && File.Exists(devtoolsSocket), TimeSpan.FromSeconds(30), "Chromium's DevTools endpoint");
            using var page = await DevTools.ConnectAsync(socketUrl!, devtoolsSocket);
            const string rows = "JSON.stringify([...document.querySelectorAll('tr[data-backend]')].map(r => r.dataset.backend + '=' + r.children[2].textContent))";
            string? seen = null;
            await Until(async () => (seen = await page.EvaluateAsync(rows)) is { } s && s.Contains("rs1=active") && s.Contains("rs2=active"),
                TimeSpan.FromSeconds(15), () => $"the page listing rs1 and rs2 active (saw {seen})");
            var updated = await page.EvaluateAsync("document.body.dataset.updated");

            lab.Server(2, running: false);
            Retry.Until(() => HttpLab.Health(engine, "rs2") == "unhealthy", TimeSpan.FromSeconds(10), "status showing rs2 down");
            var statusSaw = Stopwatch.StartNew();
            await Until(async () => (seen = await page.EvaluateAsync(rows)) is { } s && s.Contains("rs2=down"),
                TimeSpan.FromSeconds(4), () => $"the page showing rs2 down within 4 s of status (saw {seen})");
            output.WriteLine($"page showed rs2 down {statusSaw.Elapsed.TotalSeconds:F2} s after status did");
            // The same document all along: it redrew itself, nobody reloaded it.
            Assert.Equal("complete", await page.EvaluateAsync("document.readyState"));
            Assert.NotEqual(updated, await page.EvaluateAsync("document.body.dataset.updated"));
            Assert.Equal("1", await page.EvaluateAsync("String(performance.getEntriesByType('navigation').length)"));

            traffic();
            // Two more refreshes, so the chart and the counters include the whole run.
            var last = await page.EvaluateAsync("document.body.dataset.updated");
            await Until(async () => await page.EvaluateAsync("document.body.dataset.updated") != last, TimeSpan.FromSeconds(5), () => "a refresh");
            var png = await page.ScreenshotAsync();
            var results = Path.Combine(LabEnvironment.RepositoryRoot, "lab", "results");
            Directory.CreateDirectory(results);
            await File.WriteAllBytesAsync(Path.Combine(results, "status-page.png"), png);
            Assert.True(png.Length > 10_000, $"screenshot of {png.Length} bytes");
        }
        finally
        {
            relay.Kill(entireProcessTree: true);
            relay.WaitForExit(5000);
            chromium.Kill(entireProcessTree: true);
            chromium.WaitForExit(5000);
            lab.Server(2, running: true);
        }
    }

    private string? PageSocket()
    {
        var r = lab.Lab.In(lab.Lab.BalancerNs, "curl -sf --max-time 2 http://127.0.0.1:9222/json/list");
        if (r.ExitCode != 0) return null;
        using var doc = JsonDocument.Parse(r.Stdout);
        foreach (var t in doc.RootElement.EnumerateArray())
            if (t.GetProperty("type").GetString() == "page" && t.GetProperty("url").GetString()!.StartsWith($"http://{HttpLab.Listen}", StringComparison.Ordinal))
                return t.GetProperty("webSocketDebuggerUrl").GetString();
        return null;
    }

    private static async Task Until(Func<Task<bool>> condition, TimeSpan limit, Func<string> what)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {limit.TotalSeconds} s: {what()}");
            await Task.Delay(100);
        }
    }

    /// <summary>Prometheus's instant query, by backend label (or "" when the series has none).</summary>
    private Dictionary<string, double> Query(string promql)
    {
        var r = lab.Lab.In(lab.Lab.BalancerNs, $"curl -sf --max-time 3 --data-urlencode {Shell.Quote("query=" + promql)} http://127.0.0.1:9090/api/v1/query");
        var values = new Dictionary<string, double>();
        if (r.ExitCode != 0) return values;
        using var doc = JsonDocument.Parse(r.Stdout);
        foreach (var series in doc.RootElement.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var backend = series.GetProperty("metric").TryGetProperty("backend", out var b) ? b.GetString()! : "";
            values[backend] = double.Parse(series.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        }
        return values;
    }
}

/// <summary>The few Chrome DevTools Protocol calls the page test needs, over the page target's WebSocket, reached
/// through a unix socket (the endpoint is on the balancer namespace's loopback, which the test process cannot see).</summary>
internal sealed class DevTools : IDisposable
{
    private readonly ClientWebSocket _socket;
    private int _id;

    private DevTools(ClientWebSocket socket) => _socket = socket;

    public static async Task<DevTools> ConnectAsync(string url, string unixSocket)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                await s.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(unixSocket), cancel);
                return new System.Net.Sockets.NetworkStream(s, ownsSocket: true);
            },
        };
        var socket = new ClientWebSocket();
        using var invoker = new HttpMessageInvoker(handler);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new Uri(url), invoker, cancel.Token);
        return new DevTools(socket);
    }

    private async Task<JsonElement> CallAsync(string method, object parameters)
    {
        var id = ++_id;
        var request = JsonSerializer.SerializeToUtf8Bytes(new { id, method, @params = parameters });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _socket.SendAsync(request, WebSocketMessageType.Text, true, cancel.Token);
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await _socket.ReceiveAsync(buffer, cancel.Token);
                message.Write(buffer, 0, result.Count);
            } while (!result.EndOfMessage);
            using var doc = JsonDocument.Parse(message.ToArray());
            if (doc.RootElement.TryGetProperty("id", out var got) && got.GetInt32() == id)
                return doc.RootElement.GetProperty("result").Clone();
        }
    }

    /// <summary>The value of a JavaScript expression in the page, as a string (null for undefined).</summary>
    public async Task<string?> EvaluateAsync(string expression)
    {
        var result = await CallAsync("Runtime.evaluate", new { expression, returnByValue = true });
        var value = result.GetProperty("result");
        return value.TryGetProperty("value", out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.ToString() : null;
    }

    public async Task<byte[]> ScreenshotAsync()
    {
        var result = await CallAsync("Page.captureScreenshot", new { format = "png" });
        return Convert.FromBase64String(result.GetProperty("data").GetString()!);
    }

    public void Dispose() => _socket.Dispose();
}
