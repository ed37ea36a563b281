using LoadBalancer.Cli.Configuration;
using LoadBalancer.Core.Model;

using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary>The service keys <c>on_backend_down</c>, <c>when_all_down</c> and <c>health:</c>, and the
/// backend key <c>backup</c>.</summary>
public class HealthConfigTests
{
    /// <summary>A valid service with two backends (web1 on line 7, web2 on line 9, backends: on line 6);
    /// <paramref name="extra"/> goes at service level from line 11 on.</summary>
    private static string Service(string extra = "", string web2 = "") =>
        $"""
        services:
          - name: web
            vip: 10.99.0.100
            port: 80
            interface: eth0
            backends:
              - name: web1
                address: 10.99.1.11
              - name: web2
                address: 10.99.1.12{Indent(web2, 8)}
        """ + Indent(extra, 4);

    /// <summary><c>health:</c> on line 11 with <paramref name="lines"/> under it from line 12 on.</summary>
    private static string Health(params string[] lines) => Service("health:" + Indent(string.Join("\n", lines), 2));

    private static HealthCheckConfig LoadHealth(params string[] lines) => LoadService(Health(lines)).Health;

    private static void AssertHealthError(string expected, params string[] lines) =>
        AssertSingleError(Health(lines), expected);

    // ---- whole sections ------------------------------------------------------------------------

    [Fact]
    public void Parse_FullHttpsExample_LoadsEveryValue()
    {
        var service = LoadService(Service("""
            on_backend_down: keep        # reassign | drop | keep
            when_all_down: use_all       # drop | use_all
            health:
              type: https
              port: 8443
              request: "HEAD /running HTTP/1.0"
              host: example.test
              expect: 200-299,301
              verify_tls: true
              interval: 5s
              timeout: 500ms
              rise: 3
              fall: 4
              initial: healthy
            """));

        Assert.Equal(BackendDownAction.Keep, service.OnBackendDown);
        Assert.Equal(AllDownAction.UseAll, service.WhenAllDown);
        var health = service.Health;
        Assert.Equal(HealthCheckType.Https, health.Type);
        Assert.Equal(8443, health.Port);
        Assert.Equal("HEAD /running HTTP/1.0", health.Request);
        Assert.Equal("example.test", health.Host);
        Assert.Equal([new StatusRange(200, 299), new StatusRange(301, 301)], health.Expect);
        Assert.True(health.VerifyCertificate);
        Assert.Equal(TimeSpan.FromSeconds(5), health.Interval);
        Assert.Equal(TimeSpan.FromMilliseconds(500), health.Timeout);
        Assert.Equal(3, health.Rise);
        Assert.Equal(4, health.Fall);
        Assert.Equal(BackendHealth.Healthy, health.Initial);
        Assert.Equal(13, health.Line);
    }

    [Fact]
    public void Parse_ContractExampleWithEmptyKeysOfOtherTypes_Loads()
    {
        // The all-in-one example writes every key; those of other types are left empty and say nothing.
        var health = LoadHealth(
            "type: http",
            "port: 80",
            "request: \"HEAD /running HTTP/1.0\"",
            "host: example.test",
            "expect: 200-399",
            "payload: \"\"",
            "reply: \"\"",
            "command: \"\"",
            "verify_tls: false",
            "interval: 2s",
            "timeout: 1s",
            "rise: 2",
            "fall: 2",
            "initial: unknown");
        Assert.Equal(HealthCheckType.Http, health.Type);
        Assert.Equal("HEAD /running HTTP/1.0", health.Request);
        Assert.Equal("example.test", health.Host);
    }

    [Fact]
    public void Parse_HttpWithFilledKeysOfOtherTypes_ReportsEachMisplacedKey()
    {
        var errors = Errors(Health(
            "type: http",
            "payload: ping",
            "reply: pong",
            "command: /bin/true",
            "verify_tls: true"));
        Assert.Equal(
        [
            "lb.yaml:13: 'payload' applies only to udp checks",
            "lb.yaml:14: 'reply' applies only to udp checks",
            "lb.yaml:15: 'command' applies only to exec checks",
            "lb.yaml:16: 'verify_tls' applies only to https checks",
        ], errors);
    }

    [Fact]
    public void Parse_SoftStop_DefaultsTo404_AcceptsStatusOrNone()
    {
        Assert.Equal(404, LoadHealth("type: http").SoftStopStatus);
        Assert.Equal(503, LoadHealth("type: https", "soft_stop: 503").SoftStopStatus);
        Assert.Null(LoadHealth("type: http", "soft_stop: none").SoftStopStatus);
        Assert.Single(Errors(Health("type: http", "soft_stop: 42")));
        AssertSingleError(Health("type: tcp", "soft_stop: 404"), "lb.yaml:13: 'soft_stop' applies only to http/https checks");
    }

    [Fact]
    public void Parse_UdpHealth_LoadsPayloadAndReply()
    {
        var health = LoadHealth("type: udp", "port: 53", "payload: \"ping\\n\"", "reply: pong");
        Assert.Equal(HealthCheckType.Udp, health.Type);
        Assert.Equal(53, health.Port);
        Assert.Equal("ping\n", health.Payload);
        Assert.Equal("pong", health.Reply);
    }

    [Fact]
    public void Parse_UdpHealthEmptyPayloadAndReply_AreAccepted()
    {
        var health = LoadHealth("type: udp", "payload: \"\"", "reply: ''");
        Assert.Equal("", health.Payload);
        Assert.Equal("", health.Reply);
    }

    [Fact]
    public void Parse_ExecHealth_LoadsCommandUnsubstituted()
    {
        var health = LoadHealth("type: exec", "command: /usr/local/bin/check {address} {port}");
        Assert.Equal(HealthCheckType.Exec, health.Type);
        Assert.Equal("/usr/local/bin/check {address} {port}", health.Command);
        Assert.Null(health.Port);
    }

    [Fact]
    public void Parse_ExecUser_ResolvedToItsIds()
    {
        var health = LoadHealth("type: exec", "command: /bin/true", "user: nobody");

        Assert.Equal(new ExecUser("nobody", 65534, 65534, "/nonexistent"), health.User);
    }

    [Fact]
    public void Parse_ExecWithoutUser_RunsAsTheCheckersUser()
    {
        Assert.Null(LoadHealth("type: exec", "command: /bin/true").User);
    }

    [Theory]
    [InlineData("user: lb-no-such-user", "lb.yaml:14: user 'lb-no-such-user' does not exist")]
    [InlineData("user: -nobody", "lb.yaml:14: user '-nobody' is not a user name (up to 32 letters, digits, '.', '_' or '-', not starting with '-')")]
    [InlineData("user: \"no body\"", "lb.yaml:14: user 'no body' is not a user name (up to 32 letters, digits, '.', '_' or '-', not starting with '-')")]
    [InlineData("user:", "lb.yaml:14: user has no value")]
    public void Parse_BadExecUser_IsErrorAtItsLine(string line, string expected)
    {
        AssertHealthError(expected, "type: exec", "command: /bin/true", line);
    }

    [Fact]
    public void Check_UnknownExecUser_ReportedWithItsLine()
    {
        using var file = new TempFile(Health("type: exec", "command: /bin/true", "user: lb-no-such-user"));

        var (code, output, _) = CheckRun.RunCheck(file.Path);

        Assert.Equal(2, code);
        Assert.Equal([$"{file.Path}:14: user 'lb-no-such-user' does not exist"], CheckRun.OutputLines(output));
    }

    [Fact]
    public void Parse_UserOnAnotherType_IsErrorAtTheKey()
    {
        AssertHealthError("lb.yaml:13: 'user' applies only to exec checks", "type: tcp", "user: nobody");
    }

    [Fact]
    public void Parse_NoHealthSection_UsesNoneAndServiceDefaults()
    {
        var service = LoadService(Service());
        Assert.Same(HealthCheckConfig.None, service.Health);
        Assert.Equal(HealthCheckType.None, service.Health.Type);
        Assert.Equal(BackendDownAction.Reassign, service.OnBackendDown);
        Assert.Equal(AllDownAction.Drop, service.WhenAllDown);
        Assert.All(service.Backends, b => Assert.False(b.Backup));
    }

    [Theory]
    [InlineData("tcp", HealthCheckType.Tcp)]
    [InlineData("http", HealthCheckType.Http)]
    [InlineData("https", HealthCheckType.Https)]
    [InlineData("udp", HealthCheckType.Udp)]
    [InlineData("none", HealthCheckType.None)]
    public void Parse_OnlyType_UsesDefaults(string text, HealthCheckType type)
    {
        var health = LoadHealth($"type: {text}");
        Assert.Equal(type, health.Type);
        Assert.Null(health.Port);
        Assert.Equal("GET / HTTP/1.0", health.Request);
        Assert.Null(health.Host);
        Assert.Equal([new StatusRange(200, 399)], health.Expect);
        Assert.Equal("", health.Payload);
        Assert.Equal("", health.Reply);
        Assert.Equal("", health.Command);
        Assert.False(health.VerifyCertificate);
        Assert.Equal(TimeSpan.FromSeconds(2), health.Interval);
        Assert.Equal(TimeSpan.FromSeconds(1), health.Timeout);
        Assert.Equal(2, health.Rise);
        Assert.Equal(2, health.Fall);
        Assert.Equal(BackendHealth.Unknown, health.Initial);
        Assert.Equal(11, health.Line);
    }

    [Fact]
    public void Parse_FlowMappingHealth_IsRead()
    {
        var health = LoadService(Service("health: {type: tcp, port: 8080, interval: 500ms, timeout: 200ms}")).Health;
        Assert.Equal(HealthCheckType.Tcp, health.Type);
        Assert.Equal(8080, health.Port);
        Assert.Equal(TimeSpan.FromMilliseconds(200), health.Timeout);
        Assert.Equal(11, health.Line);
    }

    // ---- shape and required keys ---------------------------------------------------------------

    [Theory]
    [InlineData("health:", "lb.yaml:11: health has no value; it must be a mapping (key: value)")]
    [InlineData("health: tcp", "lb.yaml:11: health must be a mapping (key: value), not a single value")]
    [InlineData("health: [tcp]", "lb.yaml:11: health must be a mapping (key: value), not a list")]
    [InlineData("health: {}", "lb.yaml:11: missing required key 'type'")]
    public void Parse_BadHealthShape_ReportsHealthLine(string line, string expected)
    {
        AssertSingleError(Service(line), expected);
    }

    [Fact]
    public void Parse_HealthWithoutType_ReportsHealthLineAndStillChecksValues()
    {
        Assert.Equal(
            ["lb.yaml:11: missing required key 'type'", "lb.yaml:12: invalid duration 'often' (use e.g. 500ms, 2s, 1m)"],
            Errors(Health("interval: often", "rise: 3")));
    }

    [Fact]
    public void Parse_BadType_ListsAllowedTypes()
    {
        AssertHealthError("lb.yaml:12: type must be one of 'tcp', 'http', 'https', 'udp', 'exec' or 'none' (got 'icmp')", "type: icmp");
    }

    [Fact]
    public void Parse_ExecWithoutCommand_ReportsHealthLine()
    {
        AssertHealthError("lb.yaml:11: missing required key 'command' (type exec runs it)", "type: exec", "interval: 5s");
    }

    [Theory]
    [InlineData("command: \"\"", "lb.yaml:13: command must not be empty")]
    [InlineData("command: '   '", "lb.yaml:13: command must not be empty")]
    [InlineData("command:", "lb.yaml:13: command has no value")]
    [InlineData("command: \"a\\0b\"", "lb.yaml:13: command must not contain NUL characters")]
    public void Parse_BadExecCommand_IsError(string line, string expected)
    {
        AssertHealthError(expected, "type: exec", line);
    }

    [Theory]
    [InlineData("intervall: 2s", "unknown key 'intervall'")]
    [InlineData("verifyTls: true", "unknown key 'verifyTls' (did you mean 'verify_tls'?)")]
    [InlineData("Timeout: 1s", "unknown key 'Timeout' (did you mean 'timeout'?)")]
    [InlineData("backup: true", "unknown key 'backup'")]
    public void Parse_UnknownHealthKey_IsError(string line, string message)
    {
        AssertHealthError($"lb.yaml:13: {message}", "type: https", line);
    }

    [Theory]
    [InlineData("tcp", "request: GET / HTTP/1.0", "'request' applies only to http/https checks")]
    [InlineData("tcp", "host: example.test", "'host' applies only to http/https checks")]
    [InlineData("udp", "expect: 200", "'expect' applies only to http/https checks")]
    [InlineData("http", "verify_tls: true", "'verify_tls' applies only to https checks")]
    [InlineData("http", "payload: ping", "'payload' applies only to udp checks")]
    [InlineData("exec\ncommand: true", "reply: pong", "'reply' applies only to udp checks")]
    [InlineData("https", "command: /bin/true", "'command' applies only to exec checks")]
    [InlineData("none", "interval: 5s", "'interval' does not apply when type is none")]
    [InlineData("none", "port: 80", "'port' does not apply when type is none")]
    [InlineData("none", "request: GET / HTTP/1.0", "'request' applies only to http/https checks")]
    public void Parse_KeyNotForType_IsErrorAtTheKey(string type, string line, string message)
    {
        var lines = Errors(Health($"type: {type}", line));
        var expectedLine = 13 + type.Count(c => c == '\n');
        Assert.Equal([$"lb.yaml:{expectedLine}: {message}"], lines);
    }

    [Fact]
    public void Parse_KeyNotForType_ValueIsNotAlsoReported()
    {
        AssertHealthError("lb.yaml:13: 'expect' applies only to http/https checks", "type: tcp", "expect: 99");
    }

    // ---- values --------------------------------------------------------------------------------

    [Theory]
    [InlineData("port: 0", "lb.yaml:13: port must be between 1 and 65535 (got 0)")]
    [InlineData("port: 65536", "lb.yaml:13: port must be between 1 and 65535 (got 65536)")]
    [InlineData("port: http", "lb.yaml:13: port must be an integer (got 'http')")]
    [InlineData("rise: 0", "lb.yaml:13: rise must be between 1 and 100 (got 0)")]
    [InlineData("rise: 101", "lb.yaml:13: rise must be between 1 and 100 (got 101)")]
    [InlineData("fall: 0", "lb.yaml:13: fall must be between 1 and 100 (got 0)")]
    [InlineData("fall: many", "lb.yaml:13: fall must be an integer (got 'many')")]
    [InlineData("initial: down", "lb.yaml:13: initial must be 'unknown' or 'healthy' (got 'down')")]
    [InlineData("initial: Healthy", "lb.yaml:13: initial must be 'unknown' or 'healthy' (got 'Healthy')")]
    [InlineData("verify_tls: yes", "lb.yaml:13: verify_tls must be true or false (got 'yes')")]
    [InlineData("verify_tls: 1", "lb.yaml:13: verify_tls must be true or false (got '1')")]
    [InlineData("host: 'a b'", "lb.yaml:13: host must be a host name without whitespace or control characters (got 'a b')")]
    [InlineData("host: ''", "lb.yaml:13: host must be a host name without whitespace or control characters (got '')")]
    [InlineData("host: \"a\\tb\"", "lb.yaml:13: host must be a host name without whitespace or control characters (got 'a\\u0009b')")]
    public void Parse_BadHealthValue_ReportsItsLine(string line, string expected)
    {
        AssertHealthError(expected, "type: https", line);
    }

    [Theory]
    [InlineData("port: 1", 1)]
    [InlineData("port: 65535", 65535)]
    public void Parse_HealthPort_IsRead(string line, int port)
    {
        Assert.Equal(port, LoadHealth("type: tcp", line).Port);
    }

    [Theory]
    [InlineData("rise: 1", "fall: 100", 1, 100)]
    [InlineData("rise: 100", "fall: 1", 100, 1)]
    public void Parse_RiseFallBounds_AreAccepted(string rise, string fall, int expectedRise, int expectedFall)
    {
        var health = LoadHealth("type: tcp", rise, fall);
        Assert.Equal(expectedRise, health.Rise);
        Assert.Equal(expectedFall, health.Fall);
    }

    [Theory]
    [InlineData("verify_tls: false", false)]
    [InlineData("verify_tls: true", true)]
    [InlineData("verify_tls: True", true)]
    [InlineData("verify_tls: 'false'", false)]
    public void Parse_VerifyTls_IsRead(string line, bool expected)
    {
        Assert.Equal(expected, LoadHealth("type: https", line).VerifyCertificate);
    }

    [Theory]
    [InlineData("\"HEAD /running HTTP/1.0\"")]
    [InlineData("GET /health?full=1 HTTP/1.1")]
    [InlineData("OPTIONS * HTTP/1.1")]
    [InlineData("'GET / HTTP/1.0'")]
    public void Parse_ValidRequestLine_IsRead(string value)
    {
        Assert.Equal(value.Trim('"', '\''), LoadHealth("type: http", $"request: {value}").Request);
    }

    [Theory]
    [InlineData("get / HTTP/1.0", "get / HTTP/1.0")]
    [InlineData("GET HTTP/1.0", "GET HTTP/1.0")]
    [InlineData("GET health HTTP/1.0", "GET health HTTP/1.0")]
    [InlineData("GET / HTTP/2", "GET / HTTP/2")]
    [InlineData("GET / http/1.1", "GET / http/1.1")]
    [InlineData("'GET /  HTTP/1.0'", "GET /  HTTP/1.0")]
    [InlineData("GET / HTTP/1.0 extra", "GET / HTTP/1.0 extra")]
    [InlineData("\"GET /a\\tb HTTP/1.0\"", "GET /a\\u0009b HTTP/1.0")]
    [InlineData("\"GET /é HTTP/1.0\"", "GET /é HTTP/1.0")]
    public void Parse_BadRequestLine_IsError(string value, string shown)
    {
        AssertHealthError($"lb.yaml:13: request must look like 'METHOD /path HTTP/1.x', e.g. 'GET /health HTTP/1.1' (got '{shown}')",
            "type: http", $"request: {value}");
    }

    [Fact]
    public void Parse_UdpPayloadTooLarge_IsError()
    {
        AssertHealthError("lb.yaml:13: payload is 65508 bytes; a UDP datagram can carry at most 65507",
            "type: udp", $"payload: {new string('x', 65508)}");
    }

    // ---- durations -----------------------------------------------------------------------------

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("2s", 2000)]
    [InlineData("1m", 60_000)]
    [InlineData("1.5s", 1500)]
    [InlineData("3", 3000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("0.25m", 15_000)]
    [InlineData("'10s'", 10_000)]
    public void Parse_IntervalDuration_IsRead(string text, int milliseconds)
    {
        var health = LoadHealth("type: tcp", $"interval: {text}", "timeout: 100ms");
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), health.Interval);
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("1", 1000)]
    [InlineData("0.5s", 500)]
    [InlineData("2s", 2000)]
    public void Parse_TimeoutDuration_IsRead(string text, int milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), LoadHealth("type: tcp", $"timeout: {text}").Timeout);
    }

    [Theory]
    [InlineData("2 seconds")]
    [InlineData("2sec")]
    [InlineData("2S")]
    [InlineData("1d")]
    [InlineData("-1s")]
    [InlineData("+1s")]
    [InlineData("1.5")]
    [InlineData(".5s")]
    [InlineData("1.s")]
    [InlineData("1e3ms")]
    [InlineData("1,5s")]
    [InlineData("ms")]
    [InlineData("1m30s")]
    public void Parse_InvalidDuration_ReportsLine(string text)
    {
        AssertHealthError($"lb.yaml:13: invalid duration '{text}' (use e.g. 500ms, 2s, 1m)", "type: tcp", $"interval: {text}");
    }

    [Theory]
    [InlineData("interval: 0s", "lb.yaml:13: interval must be greater than 0 (got '0s')")]
    [InlineData("interval: 0", "lb.yaml:13: interval must be greater than 0 (got '0')")]
    [InlineData("interval: 61m", "lb.yaml:13: interval must be at most 1h (got '61m')")]
    [InlineData("interval: 3601s", "lb.yaml:13: interval must be at most 1h (got '3601s')")]
    [InlineData("interval: 99999999999999999999999999999999h", "lb.yaml:13: interval must be at most 1h (got '99999999999999999999999999999999h')")]
    [InlineData("timeout: 0ms", "lb.yaml:13: timeout must be greater than 0 (got '0ms')")]
    [InlineData("timeout: 3s", "lb.yaml:13: timeout 3s must not be longer than the interval (2s, the default)")]
    [InlineData("interval: 500ms", "lb.yaml:13: interval 500ms is shorter than the default timeout (1s); set a timeout no longer than the interval")]
    [InlineData("interval: [2s]", "lb.yaml:13: interval must be a single value, not a list")]
    public void Parse_DurationOutOfRange_ReportsLine(string line, string expected)
    {
        AssertHealthError(expected, "type: tcp", line);
    }

    [Fact]
    public void Parse_TimeoutLongerThanInterval_ReportsTimeoutLine()
    {
        AssertHealthError("lb.yaml:14: timeout 1.5s must not be longer than the interval (1s)", "type: tcp", "interval: 1s", "timeout: 1500ms");
    }

    [Fact]
    public void Parse_TimeoutEqualToInterval_IsAccepted()
    {
        var health = LoadHealth("type: tcp", "interval: 500ms", "timeout: 0.5s");
        Assert.Equal(health.Interval, health.Timeout);
    }

    [Theory]
    [InlineData("500ms", 500 * TimeSpan.TicksPerMillisecond)]
    [InlineData("0.0001ms", 1)]
    [InlineData("0.00001ms", 0)]
    [InlineData("7", 7 * TimeSpan.TicksPerSecond)]
    [InlineData("2.5h", 9000 * TimeSpan.TicksPerSecond)]
    public void TryParseDuration_Valid_GivesTicks(string text, long ticks)
    {
        Assert.True(ConfigSyntax.TryParseDuration(text, out var duration));
        Assert.Equal(ticks, duration.Ticks);
    }

    [Theory]
    [InlineData(500d, "500ms")]
    [InlineData(1500d, "1.5s")]
    [InlineData(2000d, "2s")]
    [InlineData(90_000d, "90s")]
    [InlineData(120_000d, "2m")]
    [InlineData(3_600_000d, "1h")]
    [InlineData(0.5d, "0.5ms")]
    public void FormatDuration_RoundTrips(double milliseconds, string expected)
    {
        var duration = TimeSpan.FromMilliseconds(milliseconds);
        Assert.Equal(expected, ConfigSyntax.FormatDuration(duration));
        Assert.True(ConfigSyntax.TryParseDuration(expected, out var back));
        Assert.Equal(duration, back);
    }

    // ---- expect --------------------------------------------------------------------------------

    [Theory]
    [InlineData("200", "200")]
    [InlineData("200-299", "200-299")]
    [InlineData("200-299,301", "200-299,301")]
    [InlineData("200-299, 301 ,404", "200-299,301,404")]
    [InlineData("'204'", "204")]
    [InlineData("100-599", "100-599")]
    [InlineData("200-200", "200")]
    [InlineData("[200, 301-308]", "200,301-308")]
    [InlineData("[\"200-299,302\", 404]", "200-299,302,404")]
    [InlineData("\n  - 200\n  - 300-399", "200,300-399")]
    public void Parse_Expect_IsRead(string value, string expected)
    {
        var health = LoadHealth("type: http", $"expect: {value}");
        Assert.Equal(expected, string.Join(",", health.Expect));
    }

    [Theory]
    [InlineData("99", "expect status 99 is not an HTTP status code (100 to 599)")]
    [InlineData("600", "expect status 600 is not an HTTP status code (100 to 599)")]
    [InlineData("0200", "expect status 0200 is not an HTTP status code (100 to 599)")]
    [InlineData("200-600", "expect status 600 is not an HTTP status code (100 to 599)")]
    [InlineData("300-200", "expect range 300-200 is backwards (write 200-300)")]
    [InlineData("2xx", "expect item '2xx' must be a status code like 200 or a range like 200-299")]
    [InlineData("200-", "expect item '200-' must be a status code like 200 or a range like 200-299")]
    [InlineData("200-300-400", "expect item '200-300-400' must be a status code like 200 or a range like 200-299")]
    [InlineData("'200,'", "expect item '' must be a status code like 200 or a range like 200-299")]
    [InlineData("[]", "expect must list at least one status code or range")]
    [InlineData("[200, [300]]", "each expect item must be a status code like 200 or a range like 200-299")]
    [InlineData("{a: 1}", "expect must be a single value, not a mapping")]
    public void Parse_BadExpect_ReportsLine(string value, string message)
    {
        AssertHealthError($"lb.yaml:13: {message}", "type: https", $"expect: {value}");
    }

    [Fact]
    public void Parse_BadExpectItems_AreEachReportedAtTheirLine()
    {
        var errors = Errors(Health("type: http", "expect:", "  - 200", "  - 99", "  - 300-200,42"));
        Assert.Equal(
        [
            "lb.yaml:15: expect status 99 is not an HTTP status code (100 to 599)",
            "lb.yaml:16: expect range 300-200 is backwards (write 200-300)",
            "lb.yaml:16: expect status 42 is not an HTTP status code (100 to 599)",
        ], errors);
    }

    // ---- on_backend_down / when_all_down ---------------------------------------------------------

    [Theory]
    [InlineData("reassign", BackendDownAction.Reassign)]
    [InlineData("drop", BackendDownAction.Drop)]
    [InlineData("keep", BackendDownAction.Keep)]
    public void Parse_OnBackendDown_IsRead(string value, BackendDownAction expected)
    {
        Assert.Equal(expected, LoadService(Service($"on_backend_down: {value}")).OnBackendDown);
    }

    [Theory]
    [InlineData("drop", AllDownAction.Drop)]
    [InlineData("use_all", AllDownAction.UseAll)]
    public void Parse_WhenAllDown_IsRead(string value, AllDownAction expected)
    {
        Assert.Equal(expected, LoadService(Service($"when_all_down: {value}")).WhenAllDown);
    }

    [Theory]
    [InlineData("on_backend_down: Drop", "on_backend_down must be one of 'reassign', 'drop' or 'keep' (got 'Drop')")]
    [InlineData("on_backend_down: migrate", "on_backend_down must be one of 'reassign', 'drop' or 'keep' (got 'migrate')")]
    [InlineData("on_backend_down:", "on_backend_down has no value")]
    [InlineData("when_all_down: use-all", "when_all_down must be 'drop' or 'use_all' (got 'use-all')")]
    [InlineData("when_all_down: keep", "when_all_down must be 'drop' or 'use_all' (got 'keep')")]
    [InlineData("whenAllDown: drop", "unknown key 'whenAllDown' (did you mean 'when_all_down'?)")]
    public void Parse_BadServiceAction_ReportsLine(string line, string message)
    {
        AssertSingleError(Service(line), $"lb.yaml:11: {message}");
    }

    // ---- backup --------------------------------------------------------------------------------

    [Theory]
    [InlineData("backup: true", true)]
    [InlineData("backup: false", false)]
    [InlineData("backup: TRUE", true)]
    public void Parse_Backup_IsRead(string line, bool expected)
    {
        var service = LoadService(Service(web2: line));
        Assert.False(service.Backends[0].Backup);
        Assert.Equal(expected, service.Backends[1].Backup);
    }

    [Theory]
    [InlineData("backup: yes", "backup must be true or false (got 'yes')")]
    [InlineData("backup: on", "backup must be true or false (got 'on')")]
    [InlineData("backup:", "backup has no value")]
    public void Parse_BadBackup_ReportsLine(string line, string message)
    {
        AssertSingleError(Service(web2: line), $"lb.yaml:11: {message}");
    }

    [Fact]
    public void Parse_AllBackendsBackup_ReportsBackendsLine()
    {
        var yaml = Service(web2: "backup: true").Replace("address: 10.99.1.11", "address: 10.99.1.11\n        backup: true");
        AssertSingleError(yaml, "lb.yaml:6: every backend of service 'web' is a backup; at least one must not be");
    }

    [Fact]
    public void Parse_OnlyBackendIsBackup_IsError()
    {
        var yaml = """
            services:
              - name: dns
                vip: 10.99.0.53
                port: 53
                protocol: udp
                interface: eth0
                backends:
                  - name: dns1
                    address: 10.99.1.21
                    backup: true
            """;
        AssertSingleError(yaml, "lb.yaml:7: every backend of service 'dns' is a backup; at least one must not be");
    }

    // ---- everything at once ----------------------------------------------------------------------

    [Fact]
    public void Parse_SeveralHealthErrors_AreAllReportedInLineOrder()
    {
        var yaml = Service(
            """
            on_backend_down: nope
            health:
              type: tcp
              request: GET / HTTP/1.0
              interval: 2 seconds
              timeout: 0s
              rise: 0
              initial: maybe
              colour: red
            """,
            web2: "backup: maybe");
        Assert.Equal(
        [
            "lb.yaml:11: backup must be true or false (got 'maybe')",
            "lb.yaml:12: on_backend_down must be one of 'reassign', 'drop' or 'keep' (got 'nope')",
            "lb.yaml:15: 'request' applies only to http/https checks",
            "lb.yaml:16: invalid duration '2 seconds' (use e.g. 500ms, 2s, 1m)",
            "lb.yaml:17: timeout must be greater than 0 (got '0s')",
            "lb.yaml:18: rise must be between 1 and 100 (got 0)",
            "lb.yaml:19: initial must be 'unknown' or 'healthy' (got 'maybe')",
            "lb.yaml:20: unknown key 'colour'",
        ], Errors(yaml));
    }

    [Fact]
    public void Parse_HealthInOneServiceOnly_OtherServiceKeepsNone()
    {
        var yaml = Service("health:\n  type: tcp") + """

              - name: web2
                vip: 10.99.0.101
                port: 80
                interface: eth0
                backends:
                  - name: web1
                    address: 10.99.1.11
            """;
        var config = Load(yaml);
        Assert.Equal(HealthCheckType.Tcp, config.Services[0].Health.Type);
        Assert.Same(HealthCheckConfig.None, config.Services[1].Health);
    }
}
