using LoadBalancer.Cli.Configuration;

namespace LoadBalancer.Cli.Commands;

/// <summary><c>lb check CONFIG</c>: validates a config file without touching the system.</summary>
public static class CheckCommand
{
    public const int ExitOk = 0;
    public const int ExitInvalid = 2;

    /// <summary>Prints <c>ok</c> and returns 0 if the config is valid; otherwise prints every error as
    /// <c>FILE:LINE: message</c>, one per line, and returns 2. Everything goes to
    /// <paramref name="stdout"/> (so the output can be piped to an editor's quickfix list);
    /// <paramref name="stderr"/> is only used if the command itself fails unexpectedly.</summary>
    public static int Run(string path, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        ConfigLoadResult result;
        try
        {
            result = ConfigLoader.Load(path);
        }
        catch (Exception e)
        {
            // The loader reports bad input as errors; getting here is a bug, but say so plainly.
            stderr.WriteLine($"lb check: internal error while reading {path}: {e.Message}");
            return ExitInvalid;
        }

        if (result.IsValid)
        {
            stdout.WriteLine("ok");
            return ExitOk;
        }
        foreach (var error in result.Errors)
            stdout.WriteLine(error.ToString());
        return ExitInvalid;
    }
}
