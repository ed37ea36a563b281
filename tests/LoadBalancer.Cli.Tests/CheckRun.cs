using LoadBalancer.Cli.Commands;

namespace LoadBalancer.Cli.Tests;

/// <summary>What the <c>lb check</c> tests need: a config written to a file, the command run on it, its output lines.</summary>
internal static class CheckRun
{
    /// <summary>Runs <c>lb check</c> on <paramref name="path"/>: its exit code, stdout and stderr.</summary>
    public static (int Code, string Out, string Err) RunCheck(string path)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CheckCommand.Run(path, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The non-empty lines of <paramref name="output"/>.</summary>
    public static string[] OutputLines(string output) =>
        output.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>A config file in the temp directory holding <c>contents</c>, deleted on dispose.</summary>
internal sealed class TempFile : IDisposable
{
    public TempFile(string contents)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"lb-test-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(Path, contents);
    }

    public string Path { get; }

    public void Dispose() => File.Delete(Path);
}
