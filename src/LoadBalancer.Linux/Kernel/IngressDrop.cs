using System.Diagnostics;
using System.Text;
using LoadBalancer.Core.Packets;

namespace LoadBalancer.Linux.Kernel;

/// <summary>An nftables netdev ingress table that drops frames for our VIPs before the kernel's IP
/// stack sees them. Our ETH_P_ALL ring still gets them (packet taps run before ingress hooks), so the
/// engine forwards each frame once and the kernel never also routes, answers or refuses it.
/// The table is named after the interface (<c>lb_&lt;ifname&gt;</c>) so a restart after a crash
/// replaces a stale one instead of stacking a second.</summary>
public sealed class IngressDrop : IDisposable
{
    private readonly string _table;
    private bool _installed;

    private IngressDrop(string table) => _table = table;

    public string TableName => _table;

    public static string TableFor(string interfaceName) => "lb_" + interfaceName.Replace('-', '_').Replace('.', '_');

    /// <summary>A NAT backend's replies: from this address and port, over this protocol; an IPv6 backend's address is
    /// <see cref="Address6"/> (and <see cref="Address"/> 0).</summary>
    public readonly record struct Reply(uint Address, byte Protocol, ushort Port)
    {
        public UInt128 Address6 { get; init; }
    }

    /// <summary>IPv6 VIPs (<paramref name="vips6"/>) are dropped except for neighbour solicitations and advertisements:
    /// a client's reachability probe is unicast to the VIP, and the engine's neighbour-discovery socket (an ETH_P_IPV6
    /// handler, which runs after ingress hooks, unlike the ETH_P_ALL ring) must see it to answer.</summary>
    public static IngressDrop Install(string interfaceName, IReadOnlyCollection<uint> vips, IReadOnlyCollection<Reply>? replies = null, uint localAddress = 0,
        IReadOnlyCollection<UInt128>? vips6 = null, UInt128 localAddress6 = default)
    {
        var drop = new IngressDrop(TableFor(interfaceName));
        Run(Script(drop._table, interfaceName, vips, replies, localAddress, vips6, localAddress6));
        drop._installed = true;
        return drop;
    }

    /// <summary>The nft script <see cref="Install"/> runs (apart for the tests).</summary>
    internal static string Script(string table, string interfaceName, IReadOnlyCollection<uint> vips, IReadOnlyCollection<Reply>? replies, uint localAddress,
        IReadOnlyCollection<UInt128>? vips6, UInt128 localAddress6)
    {
        var script = new StringBuilder();
        // "add" then "delete" makes removal of a stale table succeed whether or not it exists.
        script.AppendLine($"add table netdev {table}");
        script.AppendLine($"delete table netdev {table}");
        script.AppendLine($"table netdev {table} {{");
        script.AppendLine($"  chain ingress {{");
        script.AppendLine($"    type filter hook ingress device \"{interfaceName}\" priority -500; policy accept;");
        foreach (var vip in vips)
            script.AppendLine($"    ip daddr {Ipv4.Format(vip)} counter drop");
        foreach (var vip in vips6 ?? [])
        {
            script.AppendLine($"    ip6 daddr {Ipv6.Format(vip)} meta l4proto != ipv6-icmp counter drop");
            script.AppendLine($"    ip6 daddr {Ipv6.Format(vip)} icmpv6 type != {{ nd-neighbor-solicit, nd-neighbor-advert }} counter drop");
        }
        foreach (var r in replies ?? [])
        {
            var proto = r.Protocol == IpProtocols.Tcp ? "tcp" : "udp";
            if (r.Address6 != 0)
            {
                // Replies to the host's own IPv6 address (health checks) are the kernel's, as in IPv4.
                var notLocal6 = localAddress6 != 0 ? $"ip6 daddr != {Ipv6.Format(localAddress6)} " : "";
                script.AppendLine($"    ip6 saddr {Ipv6.Format(r.Address6)} {notLocal6}{proto} sport {r.Port} counter drop");
                continue;
            }
            var notLocal = localAddress != 0 ? $"ip daddr != {Ipv4.Format(localAddress)} " : "";
            script.AppendLine($"    ip saddr {Ipv4.Format(r.Address)} {notLocal}{proto} sport {r.Port} counter drop");
        }
        script.AppendLine("  }");
        script.AppendLine("}");
        return script.ToString();
    }

    public void Dispose()
    {
        if (!_installed) return;
        _installed = false;
        TryRun($"add table netdev {_table}\ndelete table netdev {_table}\n", out _);
    }

    private static void Run(string script)
    {
        if (!TryRun(script, out var error))
            throw new InvalidOperationException($"nft failed to install the ingress drop: {error}");
    }

    private static bool TryRun(string script, out string error)
    {
        var psi = new ProcessStartInfo("nft", "-f -")
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException("nft did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            error = $"cannot run nft ({e.Message}); install the nftables package";
            return false;
        }
        using (process)
        {
            process.StandardInput.Write(script);
            process.StandardInput.Close();
            var stderr = process.StandardError.ReadToEnd();
            process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
                error = "nft timed out";
                return false;
            }
            error = stderr.Trim();
            return process.ExitCode == 0;
        }
    }
}
