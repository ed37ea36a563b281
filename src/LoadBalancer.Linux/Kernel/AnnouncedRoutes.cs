using System.Diagnostics;
using System.Globalization;
using LoadBalancer.Core.Packets;
using LoadBalancer.Linux.Interop;

namespace LoadBalancer.Linux.Kernel;

/// <summary>Announced VIPs as routes in a kernel table of their own, through a TUN device only this process holds:
/// <c>VIP/32 dev lbrTABLE table TABLE proto static</c>. The device is not persistent, so when the process dies for
/// any reason (SIGKILL included) the kernel removes it with its last descriptor, and every route through it with
/// it: nobody has to clean up, and a routing daemon exporting the table withdraws the VIPs at once. <c>proto
/// static</c>, not <c>kernel</c>: BIRD's kernel protocol does not learn <c>proto kernel</c> routes. Routes are
/// changed with iproute2's <c>ip</c>, as the ingress drop is with <c>nft</c>.</summary>
public sealed class AnnouncedRoutes : IDisposable
{
    private readonly FileDescriptor _tun;
    private readonly HashSet<uint> _present = new();

    private AnnouncedRoutes(FileDescriptor tun, string device, int table)
    {
        _tun = tun;
        Device = device;
        Table = table;
    }

    public string Device { get; }
    public int Table { get; }

    public static AnnouncedRoutes Open(int table)
    {
        var device = "lbr" + table.ToString(CultureInfo.InvariantCulture);
        FileDescriptor handle;
        try
        {
            handle = TunSetIff.Open(device, (short)(LibC.IFF_TUN | LibC.IFF_NO_PI));
        }
        catch (NativeException e)
        {
            throw new InvalidOperationException($"{e.Message} (is another engine announcing into table {table} here?)", e);
        }
        var routes = new AnnouncedRoutes(handle, device, table);
        try
        {
            Ip($"link set dev {device} up");
            return routes;
        }
        catch
        {
            routes.Dispose();
            throw;
        }
    }

    public bool Contains(uint vip) => _present.Contains(vip);

    public void Add(uint vip)
    {
        Ip($"route replace {Ipv4.Format(vip)}/32 dev {Device} table {Table} proto static");
        _present.Add(vip);
    }

    public void Remove(uint vip)
    {
        Ip($"route del {Ipv4.Format(vip)}/32 dev {Device} table {Table}");
        _present.Remove(vip);
    }

    private static void Ip(string arguments)
    {
        var psi = new ProcessStartInfo("ip", arguments) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("ip did not start");
        var stderr = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(10_000))
        {
            process.Kill();
            throw new InvalidOperationException($"ip {arguments}: timed out");
        }
        if (process.ExitCode != 0) throw new InvalidOperationException($"ip {arguments}: {stderr.Trim()}");
    }

    /// <summary>Closing the device removes it and its routes (the kernel does; nothing to delete first).</summary>
    public void Dispose() => _tun.Dispose();
}
