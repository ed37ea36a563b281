using System.Diagnostics;
namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>A DR lab from lab/lib/topology.sh (client, router, bridge, balancer, real servers running
/// nginx and the upload server), with a per-run unique prefix. Disposing tears it down, also after a
/// failed test; a half-built lab is torn down by lab_up itself.</summary>
public sealed class NamespaceLab : IDisposable
{
    private NamespaceLab(string prefix, IReadOnlyDictionary<string, string> env)
    {
        Prefix = prefix;
        Env = env;
    }

    public string Prefix { get; }
    public IReadOnlyDictionary<string, string> Env { get; }
    public string Dir => Env["LAB_DIR"];
    public string Vip => Env["LAB_VIP"];
    public string ClientNs => Env["LAB_CLIENT_NS"];
    public string RouterNs => Env["LAB_ROUTER_NS"];
    public string RouterLanIf => Env["LAB_ROUTER_LAN_IF"];
    public string BalancerNs => Env["LAB_BALANCER_NS"];
    public string BalancerIf => Env["LAB_BALANCER_IF"];
    public string[] ServerNames => Env["LAB_SERVER_NAMES"].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    public string[] ServerNamespaces => Env["LAB_SERVER_NS"].Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The two-armed NAT lab (lab_up_nat): client, router, balancer front/back, servers behind it, dual stack;
    /// <paramref name="backMtu"/> narrows the whole back segment (LAB_NAT_BACK_MTU).</summary>
    public static NamespaceLab UpNat(int servers = 2, int? backMtu = null) =>
        Up(servers, backMtu is { } mtu ? $"LAB_NAT_BACK_MTU={mtu} lab_up_nat" : "lab_up_nat");

    public static NamespaceLab Up(int servers = 2) => Up(servers, "lab_up");

    /// <summary>The HA lab (lab_up_ha): two balancers with keepalived, DR and NAT services on the same servers.</summary>
    public static NamespaceLab UpHa(int servers = 3) => Up(servers, "lab_up_ha");

    /// <summary>The CLUSTERIP lab (lab_up_cluster): client, router and nodes on one bridge, no balancer.</summary>
    public static NamespaceLab UpCluster(int nodes = 3) => Up(nodes, "lab_up_cluster");

    /// <summary>Runs bash commands with lab/lib/topology.sh sourced and LB_DLL set to this build's lb.dll.</summary>
    public static CommandResult Topology(string commands, TimeSpan? timeout = null) =>
        Shell.Bash($"export LB_DLL={Shell.Quote(LabEnvironment.LbDll)}; " +
                   $"source {Shell.Quote(Path.Combine(LabEnvironment.RepositoryRoot, "lab/lib/topology.sh"))}; {commands}", timeout);

    /// <summary>Any lab of topology.sh by its builder's name (lab_up, lab_up_nat, lab_up_ecmp, ...).</summary>
    public static NamespaceLab Up(int servers, string function)
    {
        // "lt" + 6 hex: unique per run, and short enough for interface names.
        var prefix = "lt" + Convert.ToHexString(Guid.NewGuid().ToByteArray())[..6].ToLowerInvariant();
        var result = Topology($"{function} {prefix} {servers}", TimeSpan.FromSeconds(120));
        if (result.ExitCode != 0)
        {
            Down(prefix);
            throw new InvalidOperationException($"{function} {prefix} failed:\n{result.Output}");
        }
        var env = new Dictionary<string, string>();
        foreach (var line in File.ReadAllLines($"/tmp/{prefix}/lab.env"))
        {
            var eq = line.IndexOf('=');
            if (eq > 0) env[line[..eq]] = line[(eq + 1)..].Trim('"');
        }
        return new NamespaceLab(prefix, env);
    }

    public CommandResult InClient(string script, int timeoutSeconds = 60) =>
        Shell.InNamespace(ClientNs, ["bash", "-c", script], TimeSpan.FromSeconds(timeoutSeconds));

    /// <summary>One datagram from the client to <paramref name="address"/>:<paramref name="port"/> on a connected UDP
    /// socket, which hears an ICMP(v6) port unreachable as ECONNREFUSED only if the error names that address and this
    /// very socket in its quote (the client's kernel checks a translation too): "REFUSED CLIENTPORT", "ANSWERED" or
    /// "TIMEOUT" (3 s).</summary>
    public string UdpProbe(string address, int port)
    {
        var family = address.Contains(':') ? "AF_INET6" : "AF_INET";
        return InClient($$"""
            /usr/bin/python3 -c '
            import socket
            s = socket.socket(socket.{{family}}, socket.SOCK_DGRAM)
            s.settimeout(3)
            s.connect(("{{address}}", {{port}}))
            s.send(b"anyone")
            try:
                s.recv(100); print("ANSWERED")
            except ConnectionRefusedError:
                print("REFUSED", s.getsockname()[1])
            except socket.timeout:
                print("TIMEOUT")
            '
            """, 30).Stdout.Trim();
    }

    /// <summary>N new connections from the client to the VIP; the answering server's name per connection, or "FAILED".</summary>
    public string[] Connect(int count, int maxTimeSeconds = 3) =>
        InClient($"for i in $(seq {count}); do curl -s --noproxy '*' --max-time {maxTimeSeconds} http://{Vip}/ || echo FAILED; done",
                count * (maxTimeSeconds + 2) + 10)
            .Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();

    /// <summary>A file of random bytes in the lab's directory, with its sha256 (lowercase hex) and length.</summary>
    public (string Path, string Sha256, int Length) RandomFile(string name, int length = 10 * 1024 * 1024)
    {
        var path = Path.Combine(Dir, name);
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        return (path, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)).ToLowerInvariant(), length);
    }

    /// <summary>POSTs the file from the client to the upload server through the VIP; its answer,
    /// "&lt;server&gt; &lt;sha256&gt; &lt;length&gt;" when all went well (trimmed).</summary>
    public string Upload(string file, int maxTimeSeconds = 30) =>
        InClient($"curl -s --noproxy '*' --max-time {maxTimeSeconds} --data-binary @{file} http://{Vip}:8080/upload", maxTimeSeconds + 30).Stdout.Trim();

    /// <summary>Runs a bounded script in the client namespace in the background; the returned function waits
    /// for it and parses its lines as "&lt;unix ms&gt; &lt;value&gt;".</summary>
    public Func<List<(DateTimeOffset At, string Value)>> InClientBackground(string script)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in new[] { "netns", "exec", ClientNs, "bash", "-c", script }) psi.ArgumentList.Add(a);
        var process = System.Diagnostics.Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        return () =>
        {
            if (!process.WaitForExit(120_000)) process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' ', 2))
                .Where(p => p.Length == 2 && long.TryParse(p[0], out _))
                .Select(p => (DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture)), p[1].Trim()))
                .ToList();
        };
    }

    /// <summary>Starts a rate-limited download of /big through the VIP in the background; the returned
    /// function waits for it and gives curl's exit code and the sha256 of what arrived.</summary>
    /// <remarks><paramref name="localPort"/> fixes the client's source port, and so the flow's hash;
    /// <paramref name="vip"/> (an IPv6 one in brackets) replaces the lab's IPv4 VIP.</remarks>
    public Func<(int Exit, string Sha)> StartDownload(string name, string rate = "1500k", int maxTimeSeconds = 60, int? localPort = null, string? vip = null)
    {
        var output = Path.Combine(Dir, $"{name}.bin");
        // curl's --limit-rate only slows its reads; with receive-buffer autotuning the server would push most
        // of the file over the wire at once and the flow would go quiet early. A small receive buffer in the
        // client's namespace keeps the transfer on the wire for as long as the download lasts.
        InClient("sysctl -qw net.ipv4.tcp_rmem='4096 32768 65536'");
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", ClientNs, "curl", "-s", "--noproxy", "*", "--max-time", maxTimeSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--limit-rate", rate,
                     "-o", output, $"http://{vip ?? Vip}/big" })
            psi.ArgumentList.Add(a);
        if (localPort is { } port)
        {
            psi.ArgumentList.Add("--local-port");
            psi.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        var process = Process.Start(psi)!;
        return () =>
        {
            if (!process.WaitForExit(90_000)) process.Kill();
            process.WaitForExit();
            var sha = File.Exists(output)
                ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(output))).ToLowerInvariant()
                : "";
            return (process.ExitCode, sha);
        };
    }

    /// <summary>A throttled download of /big through <paramref name="vip"/> into the lab's directory, for failover
    /// tests: curl gives up after 10 s without a byte (a connection the failure broke), long before its time limit.
    /// The returned function waits for it and gives curl's exit code and the sha256 of what arrived.</summary>
    public Func<(int Exit, string Sha)> ThrottledDownload(string vip, string name, string rate = "500k")
    {
        var output = Path.Combine(Dir, $"{name}.bin");
        File.Delete(output);
        InClient("sysctl -qw net.ipv4.tcp_rmem='4096 32768 65536'");
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", ClientNs, "curl", "-s", "--noproxy", "*", "--max-time", "90", "--limit-rate", rate,
                     "--speed-time", "10", "--speed-limit", "1", "-o", output, $"http://{vip}/big" })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        return () =>
        {
            if (!process.WaitForExit(120_000)) process.Kill();
            process.WaitForExit();
            var sha = File.Exists(output) ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(output))).ToLowerInvariant() : "";
            return (process.ExitCode, sha);
        };
    }

    /// <summary>Waits (bounded) until each named download has received something: every connection is open.</summary>
    public static void WaitForBytes(NamespaceLab lab, IEnumerable<string> names) =>
        Retry.Until(() => names.All(n => new FileInfo(Path.Combine(lab.Dir, $"{n}.bin")) is { Exists: true, Length: > 100_000 }),
            TimeSpan.FromSeconds(20), "every download under way");

    /// <summary>Waits for the downloads; the names of those that failed or arrived different from /big.</summary>
    public List<string> Broken(IEnumerable<(string Name, Func<(int Exit, string Sha)> Wait)> downloads)
    {
        var expected = Env["LAB_BIG_SHA256"];
        return downloads.Select(d => (d.Name, Result: d.Wait()))
            .Where(d => d.Result.Exit != 0 || d.Result.Sha != expected)
            .Select(d => $"{d.Name} (curl {d.Result.Exit})").ToList();
    }

    public CommandResult In(string ns, string script, int timeoutSeconds = 60) =>
        Shell.InNamespace(ns, ["bash", "-c", script], TimeSpan.FromSeconds(timeoutSeconds));

    /// <summary>The DR lab's config: web and upload, and web6 (DR6) unless <paramref name="ipv6"/> is false.</summary>
    public string WriteDrConfig(string name = "lb.yaml", bool ipv6 = true) => WriteConfig("lab_write_dr_config", name, ipv6 ? "" : "ipv4");

    /// <summary>The NAT lab's config: web, upload, echo, and their IPv6 twins web6, upload6, echo6 unless
    /// <paramref name="ipv6"/> is false.</summary>
    public string WriteNatConfig(string name = "lb.yaml", bool ipv6 = true) => WriteConfig("lab_write_nat_config", name, ipv6 ? "" : "ipv4");

    /// <summary>Node <paramref name="node"/>'s (1-based) engine config in a CLUSTERIP lab: web, echo, and web6
    /// (CLUSTERIP6) unless <paramref name="ipv6"/> is false.</summary>
    public string WriteClusterConfig(int node, bool ipv6 = true) =>
        WriteConfig("lab_write_cluster_config", $"node{node}.yaml", node.ToString(System.Globalization.CultureInfo.InvariantCulture) + (ipv6 ? "" : " ipv4"));

    /// <summary>A config from one of topology.sh's writers (FUNCTION PREFIX [ARG] FILE; they count the lab's hosts).</summary>
    private string WriteConfig(string function, string name, string arg = "")
    {
        var path = Path.Combine(Dir, name);
        var result = Topology($"{function} {Prefix} {arg} {Shell.Quote(path)}");
        if (result.ExitCode != 0) throw new InvalidOperationException(result.Output);
        return path;
    }

    private static void Down(string prefix) => Topology($"lab_down {prefix}", TimeSpan.FromSeconds(60));

    public void Dispose() => Down(Prefix);
}
