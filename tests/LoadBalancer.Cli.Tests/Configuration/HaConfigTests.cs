using System.Net;
using LoadBalancer.Core.Model;

using static LoadBalancer.Cli.Tests.Configuration.ConfigParsing;

namespace LoadBalancer.Cli.Tests.Configuration;

/// <summary>The <c>ha:</c> section (initial_role, garp, sync with peer, port, interface, key_file).</summary>
public class HaConfigTests
{
    /// <summary>Lines: ha 1, initial_role 2, garp 3, sync 4, peer 5, port 6, interface 7, services 8.</summary>
    private static readonly string Example = Minimal(top: """
        ha:
          initial_role: master
          garp: {count: 5, interval: 500ms}
          sync:
            peer: 10.99.1.3
            port: 8849
            interface: eth1
        """);

    private static string Edit(string from, string to)
    {
        Assert.Contains(from, Example);
        return Example.Replace(from, to);
    }

    [Fact]
    public void Parse_FullExample_LoadsEveryValue()
    {
        var ha = Assert.IsType<HaConfig>(Load(Example).Ha);
        Assert.Equal(HaRole.Master, ha.InitialRole);
        Assert.Equal(5, ha.GarpCount);
        Assert.Equal(TimeSpan.FromMilliseconds(500), ha.GarpInterval);
        Assert.Equal(1, ha.Line);
        var sync = Assert.IsType<HaSyncConfig>(ha.Sync);
        Assert.Equal(IPAddress.Parse("10.99.1.3"), sync.Peer);
        Assert.Equal(8849, sync.Port);
        Assert.Equal("eth1", sync.Interface);
        Assert.Null(sync.KeyFile);
        Assert.Null(sync.Key);
        Assert.Equal(4, sync.Line);
    }

    [Fact]
    public void Parse_EmptyMappingAndNoSync_TakesTheDefaults()
    {
        var ha = Assert.IsType<HaConfig>(Load(Minimal(top: "ha: {}")).Ha);
        Assert.Equal(HaRole.Backup, ha.InitialRole);
        Assert.Equal(3, ha.GarpCount);
        Assert.Equal(TimeSpan.FromSeconds(1), ha.GarpInterval);
        Assert.Null(ha.Sync);
    }

    [Fact]
    public void Parse_NoHaSection_IsALoneBalancer() => Assert.Null(Load(Minimal()).Ha);

    [Fact]
    public void Parse_SyncWithPeerOnly_UsesPort8848AndTheRoute()
    {
        var sync = Load(Minimal(top: "ha:\n  sync: {peer: 10.99.1.3}")).Ha!.Sync!;
        Assert.Equal(8848, sync.Port);
        Assert.Null(sync.Interface);
    }

    [Theory]
    [InlineData("peer: 10.99.1.3", "peer: lb2.example", "lb.yaml:5: peer must be an IPv4 address like 10.0.0.1 (got 'lb2.example')")]
    [InlineData("peer: 10.99.1.3", "peer: 2001:db8::3", "lb.yaml:5: IPv6 sync peers are not supported yet")]
    [InlineData("peer: 10.99.1.3", "peer: 0.0.0.0", "lb.yaml:5: peer 0.0.0.0 is the unspecified address")]
    [InlineData("initial_role: master", "initial_role: fault", "lb.yaml:2: initial_role must be 'backup' or 'master' (got 'fault')")]
    [InlineData("port: 8849", "port: 70000", "lb.yaml:6: port must be between 1 and 65535 (got 70000)")]
    [InlineData("interface: eth1", "interface: a/b", "lb.yaml:7: interface 'a/b' is not a valid interface name (1 to 15 characters, no '/', ':' or whitespace)")]
    [InlineData("count: 5", "count: 101", "lb.yaml:3: count must be between 0 and 100 (got 101)")]
    [InlineData("interval: 500ms", "interval: 0s", "lb.yaml:3: interval must be greater than 0 (got '0s')")]
    [InlineData("initial_role: master", "initial_role: master\n  vrrp: yes", "lb.yaml:3: unknown key 'vrrp'")]
    public void Parse_BadValue_RefusedWithItsLine(string from, string to, string expected)
    {
        var errors = Errors(Edit(from, to));
        Assert.Contains(expected, errors);
        Assert.Single(errors);
    }

    [Fact]
    public void Parse_SyncWithoutPeer_RefusedAtSync() =>
        AssertSingleError(Minimal(top: "ha:\n  sync: {port: 8848}"), "lb.yaml:2: missing required key 'peer'");

    [Fact]
    public void Parse_KeyFileOwnerOnly_ReadsTheKey()
    {
        using var key = KeyFile("  " + new string('a', 32) + new string('B', 32) + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var sync = Load(Minimal(top: $"ha:\n  sync: {{peer: 10.99.1.3, key_file: {key.Path}}}")).Ha!.Sync!;
        Assert.Equal(key.Path, sync.KeyFile);
        Assert.Equal([.. Enumerable.Repeat((byte)0xAA, 16), .. Enumerable.Repeat((byte)0xBB, 16)], Assert.IsType<byte[]>(sync.Key));
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, "must not be readable or writable by group or others (mode 0640; chmod 600 it)")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.OtherRead, "must not be readable or writable by group or others (mode 0404; chmod 600 it)")]
    public void Parse_KeyFileOthersCanRead_Refused(UnixFileMode mode, string problem)
    {
        using var key = KeyFile(new string('0', 64), mode);
        AssertSingleError(Minimal(top: $"ha:\n  sync: {{peer: 10.99.1.3, key_file: {key.Path}}}"), $"lb.yaml:2: key_file '{key.Path}': {problem}");
    }

    [Theory]
    [InlineData("0123")]
    [InlineData("zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("00000000000000000000000000000000000000000000000000000000000000000")]
    public void Parse_KeyFileNotA32ByteHexKey_Refused(string contents)
    {
        using var key = KeyFile(contents, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        AssertSingleError(Minimal(top: $"ha:\n  sync: {{peer: 10.99.1.3, key_file: {key.Path}}}"),
            $"lb.yaml:2: key_file '{key.Path}': must hold exactly 64 hex characters (a 32-byte key; e.g. from 'openssl rand -hex 32')");
    }

    [Theory]
    [InlineData("relative/sync.key", "must be an absolute path")]
    [InlineData("/nonexistent/lb-test/sync.key", "no such file")]
    public void Parse_KeyFileMissingOrRelative_Refused(string path, string problem) =>
        AssertSingleError(Minimal(top: $"ha:\n  sync: {{peer: 10.99.1.3, key_file: {path}}}"), $"lb.yaml:2: key_file '{path}': {problem}");

    private static TempFile KeyFile(string contents, UnixFileMode mode)
    {
        var file = new TempFile(contents);
        File.SetUnixFileMode(file.Path, mode);
        return file;
    }
}
