namespace LoadBalancer.Lab.Tests.Infrastructure;

/// <summary>Small changes to a config topology.sh wrote.</summary>
public static class ConfigFiles
{
    /// <summary>Puts top-level <paramref name="lines"/> (YAML, like "io: af_xdp") first in the file; returns its path.</summary>
    public static string WithTopLevel(string path, string lines)
    {
        File.WriteAllText(path, lines.TrimEnd('\n') + "\n" + File.ReadAllText(path));
        return path;
    }
}
