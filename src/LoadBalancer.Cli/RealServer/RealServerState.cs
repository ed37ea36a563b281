using System.Text.Json;
using System.Text.Json.Serialization;

namespace LoadBalancer.Cli.RealServer;

/// <summary>What <c>lb realserver setup</c> changed, so teardown can undo exactly that. Entries are
/// written before the change is made (write-ahead), so a crash leaves at most a record of a change
/// that did not happen, which teardown recognises and drops.</summary>
public sealed class RealServerState
{
    public int Version { get; set; } = 1;
    public List<SysctlChange> Sysctls { get; set; } = new();
    public List<AddedAddress> Addresses { get; set; } = new();

    [JsonIgnore]
    public bool IsEmpty => Sysctls.Count == 0 && Addresses.Count == 0;
}

/// <summary>A sysctl setup changed: its value before, and the value setup wrote.</summary>
public sealed class SysctlChange
{
    public string Name { get; set; } = "";
    public string Original { get; set; } = "";
    public string Applied { get; set; } = "";
}

/// <summary>An address setup added, in CIDR form (10.99.0.100/32, 2001:db8::100/128).</summary>
public sealed class AddedAddress
{
    public string Device { get; set; } = "";
    public string Address { get; set; } = "";

    [JsonIgnore]
    public bool IsIpv6 => Address.Contains(':');
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(RealServerState))]
internal sealed partial class RealServerStateJson : JsonSerializerContext;

/// <summary>Loads and saves the state file; saves are atomic (write to a temporary file, then rename).</summary>
internal sealed class RealServerStateStore(string path)
{
    public string Path { get; } = path;

    public bool TryLoad(out RealServerState state, out string? error)
    {
        state = new RealServerState();
        error = null;
        try
        {
            if (!File.Exists(Path)) return true;
            var loaded = JsonSerializer.Deserialize(File.ReadAllText(Path), RealServerStateJson.Default.RealServerState);
            if (loaded is null || loaded.Version != 1 || loaded.Sysctls is null || loaded.Addresses is null)
            {
                error = $"state file {Path} is not in a format this version understands";
                return false;
            }
            state = loaded;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            error = $"cannot read state file {Path}: {e.Message}";
            return false;
        }
    }

    /// <summary>Writes the state, or deletes the file when there is nothing left to undo.</summary>
    public void Save(RealServerState state)
    {
        try
        {
            if (state.IsEmpty)
            {
                File.Delete(Path);
                return;
            }
            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            var temp = Path + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(state, RealServerStateJson.Default.RealServerState) + "\n");
            File.Move(temp, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RealServerStateException($"cannot write state file {Path}: {e.Message}", e);
        }
    }
}

public sealed class RealServerStateException(string message, Exception? inner = null) : Exception(message, inner);
