using LoadBalancer.Cli.RealServer;

namespace LoadBalancer.Cli.Tests.RealServer;

/// <summary>An in-memory host: sysctls, interfaces and addresses, with a log of every change made.</summary>
internal sealed class FakeNetworkControl : INetworkControl
{
    public Dictionary<string, string> Sysctls { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, List<InterfaceAddress>> Addresses { get; } = new(StringComparer.Ordinal);
    public List<string> Changes { get; } = new();

    /// <summary>Makes the next change whose log line starts with this prefix fail.</summary>
    public string? FailOn { get; set; }

    public static FakeNetworkControl WithInterfaces(params string[] interfaces)
    {
        var fake = new FakeNetworkControl();
        foreach (var name in new[] { "all", "default", "lo" }.Concat(interfaces))
        {
            fake.Sysctls[SysctlNames.Ipv4Conf(name, "arp_ignore")] = "0";
            fake.Sysctls[SysctlNames.Ipv4Conf(name, "arp_announce")] = "0";
            fake.Addresses[name is "all" or "default" ? "" : name] = new List<InterfaceAddress>();
        }
        fake.Addresses.Remove("");
        return fake;
    }

    /// <summary>A snapshot to compare before/after: sysctls and addresses, sorted.</summary>
    public string Snapshot() =>
        string.Join("\n", Sysctls.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")
            .Concat(Addresses.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}: {string.Join(",", p.Value)}")));

    public string? ReadSysctl(string name) => Sysctls.GetValueOrDefault(name);

    public void WriteSysctl(string name, string value)
    {
        if (!Sysctls.ContainsKey(name)) throw new NetworkControlException($"{name} does not exist");
        Change($"sysctl {name}={value}");
        Sysctls[name] = value;
    }

    public IReadOnlyList<string> ListInterfaces() =>
        Sysctls.Keys.Select(k => k.Split('.')[3].Replace('/', '.')).Distinct().ToArray();

    public IReadOnlyList<InterfaceAddress> ListAddresses(string device) =>
        Addresses.TryGetValue(device, out var list) ? list.ToArray() : throw new NetworkControlException($"Device \"{device}\" does not exist.");

    public void AddAddress(string device, InterfaceAddress address)
    {
        var list = Addresses.TryGetValue(device, out var l) ? l : throw new NetworkControlException($"Device \"{device}\" does not exist.");
        if (list.Contains(address)) throw new NetworkControlException("RTNETLINK answers: File exists");
        Change($"add {address} dev {device}");
        list.Add(address);
    }

    public void RemoveAddress(string device, InterfaceAddress address)
    {
        var list = Addresses.TryGetValue(device, out var l) ? l : throw new NetworkControlException($"Device \"{device}\" does not exist.");
        if (!list.Contains(address)) throw new NetworkControlException("RTNETLINK answers: Cannot assign requested address");
        Change($"del {address} dev {device}");
        list.Remove(address);
    }

    private void Change(string what)
    {
        if (FailOn is not null && what.StartsWith(FailOn, StringComparison.Ordinal))
        {
            FailOn = null;
            throw new NetworkControlException($"injected failure: {what}");
        }
        Changes.Add(what);
    }
}
