using LoadBalancer.Core.Model;

namespace LoadBalancer.Cli.Configuration;

/// <summary>One problem in a config file. <see cref="Line"/> is 1-based; 0 means the problem is
/// with the file as a whole (it could not be read).</summary>
public sealed record ConfigError(string File, int Line, string Message)
{
    public override string ToString() => $"{File}:{Line}: {Message}";
}

/// <summary>The outcome of loading a config: either a config and no errors, or no config and at least
/// one error (all the errors found, in line order).</summary>
public sealed class ConfigLoadResult
{
    public ConfigLoadResult(BalancerConfig? config, IReadOnlyList<ConfigError> errors)
    {
        if (config is not null && errors.Count > 0)
            throw new ArgumentException("a config with errors must not be returned", nameof(config));
        if (config is null && errors.Count == 0)
            throw new ArgumentException("a failed load must report at least one error", nameof(errors));
        Config = config;
        Errors = errors;
    }

    public BalancerConfig? Config { get; }
    public IReadOnlyList<ConfigError> Errors { get; }
    public bool IsValid => Config is not null;
}
