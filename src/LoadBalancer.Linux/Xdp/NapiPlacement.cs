using System.Globalization;
using LoadBalancer.Linux.Kernel;

namespace LoadBalancer.Linux.Xdp;

/// <summary>Where an interface's XDP work runs. On a virtual interface (veth: no device behind it) the program runs in
/// the NAPI poll that the peer's transmit schedules, on the sending CPU, so receive steering (RPS) never applies and
/// the cost lands on whoever sends. Threaded NAPI (<c>/sys/class/net/IF/threaded</c>) moves that poll into kernel
/// threads (<c>napi/IF-ID</c>), which this pins to the workers' CPUs. Disposing restores the interface's setting (its
/// threads go with it), which must happen before the program is detached. A NIC is left alone: its queues' IRQ
/// affinity is the operator's (and already decides the CPU).</summary>
public sealed class NapiPlacement : IDisposable
{
    private const int KernelThreadCommLength = 15;

    private readonly string _path;
    private readonly string _before;

    private NapiPlacement(string path, string before, string said)
    {
        _path = path;
        _before = before;
        Said = said;
    }

    /// <summary>What was done, for the log.</summary>
    public string Said { get; }

    /// <summary>Null for an interface with a device behind it (a NIC) or a kernel without threaded NAPI; else the
    /// interface switched to threaded NAPI with its threads on <paramref name="cpus"/>.</summary>
    /// <exception cref="IOException">The setting could not be written.</exception>
    public static NapiPlacement? Apply(string interfaceName, IReadOnlyCollection<int> cpus)
    {
        var sys = $"/sys/class/net/{interfaceName}";
        var path = Path.Combine(sys, "threaded");
        if (Directory.Exists(Path.Combine(sys, "device")) || !File.Exists(path)) return null;
        var before = File.ReadAllText(path).Trim();
        File.WriteAllText(path, "1");
        try
        {
            var threads = Threads(interfaceName);
            foreach (var pid in threads) CpuAffinity.Set(pid, cpus);
            var on = string.Join(",", cpus);
            return new NapiPlacement(path, before, threads.Count == 0
                ? $"threaded NAPI on {interfaceName}, but no napi/{interfaceName} thread found to pin"
                : $"threaded NAPI on {interfaceName} (was {before}): {threads.Count} napi thread(s) pinned to CPU {on}, where its XDP work now runs");
        }
        catch
        {
            File.WriteAllText(path, before);
            throw;
        }
    }

    /// <summary>The kernel threads <c>napi/IF-ID</c> of the interface, by name (truncated to 15 characters, as the
    /// kernel keeps it) among the children of kthreadd.</summary>
    private static List<int> Threads(string interfaceName)
    {
        var prefix = $"napi/{interfaceName}-";
        if (prefix.Length > KernelThreadCommLength) prefix = prefix[..KernelThreadCommLength];
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                var comm = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
                if (!comm.StartsWith(prefix, StringComparison.Ordinal)) continue;
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // Field 4, after the ")" that ends the name: the parent; kthreadd is pid 2.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields.Length > 1 && fields[1] == "2") found.Add(pid);
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
        }
        return found;
    }

    public void Dispose()
    {
        try
        {
            File.WriteAllText(_path, _before);
        }
        catch (IOException)
        {
            // The interface is gone: so is its setting.
        }
    }
}
