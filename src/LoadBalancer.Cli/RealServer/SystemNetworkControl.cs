using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace LoadBalancer.Cli.RealServer;

/// <summary>The real host: sysctls through /proc/sys, addresses through iproute2's <c>ip</c> (run
/// directly, never through a shell).</summary>
public sealed class SystemNetworkControl : INetworkControl
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);
    private readonly string _procSys;
    private readonly string _ip;

    public SystemNetworkControl(string procSysRoot = "/proc/sys", string ipCommand = "ip")
    {
        _procSys = procSysRoot;
        _ip = ipCommand;
    }

    public string? ReadSysctl(string name)
    {
        var path = SysctlPath(name);
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NetworkControlException($"cannot read {name}: {e.Message}", e);
        }
    }

    public void WriteSysctl(string name, string value)
    {
        var path = SysctlPath(name);
        try
        {
            // Open without O_CREAT/O_TRUNC: a sysctl that does not exist must not be created as a file.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
            var bytes = System.Text.Encoding.ASCII.GetBytes(value + "\n");
            stream.Write(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NetworkControlException($"cannot set {name} to {value}: {e.Message}", e);
        }
    }

    public IReadOnlyList<string> ListInterfaces()
    {
        var dir = Path.Combine(_procSys, "net", "ipv4", "conf");
        try
        {
            return Directory.GetDirectories(dir).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NetworkControlException($"cannot list {dir}: {e.Message}", e);
        }
    }

    public IReadOnlyList<InterfaceAddress> ListAddresses(string device)
    {
        var json = RunIp("-j", "addr", "show", "dev", device);
        try
        {
            return ParseIpJson(json);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new NetworkControlException($"cannot understand the output of 'ip -j addr show dev {device}': {e.Message}", e);
        }
    }

    public void AddAddress(string device, InterfaceAddress address) => RunIp(AddressCommand("add", device, address));

    public void RemoveAddress(string device, InterfaceAddress address) => RunIp(AddressCommand("del", device, address));

    /// <summary>The <c>ip</c> arguments that add or delete <paramref name="address"/>: <c>ip addr add 10.99.0.100/32 dev lo</c>,
    /// <c>ip -6 addr add 2001:db8::100/128 dev lo nodad</c>.</summary>
    internal static string[] AddressCommand(string verb, string device, InterfaceAddress address) =>
        !address.IsIpv6 ? ["addr", verb, address.ToString(), "dev", device]
        : verb == "add" ? ["-6", "addr", verb, address.ToString(), "dev", device, "nodad"]
        : ["-6", "addr", verb, address.ToString(), "dev", device];

    /// <summary>Sets a link up (the engine's CLUSTERIP TAP).</summary>
    public void SetLinkUp(string device) => RunIp("link", "set", "dev", device, "up");

    /// <summary>Parses <c>ip -j addr show</c> output: an array of links, each with an addr_info array of inet and
    /// inet6 entries.</summary>
    internal static IReadOnlyList<InterfaceAddress> ParseIpJson(string json)
    {
        var result = new List<InterfaceAddress>();
        if (string.IsNullOrWhiteSpace(json)) return result;
        using var doc = JsonDocument.Parse(json);
        foreach (var link in doc.RootElement.EnumerateArray())
        {
            if (!link.TryGetProperty("addr_info", out var infos) || infos.ValueKind != JsonValueKind.Array) continue;
            foreach (var info in infos.EnumerateArray())
            {
                if (!info.TryGetProperty("family", out var family) || family.GetString() is not ({ } name and ("inet" or "inet6"))) continue;
                if (!info.TryGetProperty("local", out var local) || !info.TryGetProperty("prefixlen", out var prefix)) continue;
                var expected = name == "inet" ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                if (!IPAddress.TryParse(local.GetString(), out var address) || address.AddressFamily != expected) continue;
                result.Add(new InterfaceAddress(address, prefix.GetInt32()));
            }
        }
        return result;
    }

    private string SysctlPath(string name) => Path.Combine(_procSys, SysctlNames.ToRelativePath(name));

    private string RunIp(params string[] args)
    {
        var command = $"{_ip} {string.Join(' ', args)}";
        var start = new ProcessStartInfo(_ip)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new NetworkControlException($"could not start '{command}'");
        }
        catch (Win32Exception e)
        {
            throw new NetworkControlException($"could not run '{_ip}' (is iproute2 installed?): {e.Message}", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(CommandTimeout))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                throw new NetworkControlException($"'{command}' did not finish within {CommandTimeout.TotalSeconds:0} s");
            }
            process.WaitForExit();
            var error = stderr.GetAwaiter().GetResult().Trim();
            var output = stdout.GetAwaiter().GetResult();
            if (process.ExitCode != 0)
                throw new NetworkControlException($"'{command}' failed (exit {process.ExitCode}){(error.Length > 0 ? ": " + error : "")}");
            return output;
        }
    }
}
