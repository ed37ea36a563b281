using System.Diagnostics;
using LoadBalancer.Lab.Tests.Infrastructure;

namespace LoadBalancer.Lab.Tests.Packaging;

/// <summary>The .deb that <c>packaging/build-deb.sh</c> makes, built once per test class (a self-contained publish
/// takes about a minute) and extracted with <c>dpkg-deb</c>. The build starts when a test first asks for it, so a
/// run that skips every packaging test builds nothing; a failed build fails each test with the script's output.
/// Everything lives in one temporary directory, removed on dispose whatever happened.</summary>
public sealed class DebPackage : IDisposable
{
    private readonly Lazy<Built> _built;

    public DebPackage() => _built = new Lazy<Built>(Build);

    /// <summary>Scratch space of the tests, removed with the rest.</summary>
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "lb-deb-test-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>The .deb, as the script's last line named it.</summary>
    public string Deb => _built.Value.Deb;

    /// <summary>The package's files, extracted (<c>dpkg-deb -x</c>): exactly what it installs under /.</summary>
    public string Root => _built.Value.Root;

    /// <summary>The maintainer scripts and control files (<c>dpkg-deb -e</c>).</summary>
    public string Control => _built.Value.Control;

    public TimeSpan BuildTime => _built.Value.Time;

    /// <summary>The extracted <c>/usr/bin/lb</c>.</summary>
    public string Lb => Path.Combine(Root, "usr", "bin", "lb");

    private Built Build()
    {
        Directory.CreateDirectory(Dir);
        var script = Path.Combine(LabEnvironment.RepositoryRoot, "packaging", "build-deb.sh");
        var clock = Stopwatch.StartNew();
        // Its scratch directory inside ours: even a build killed at the time limit leaves nothing behind.
        var run = Shell.Bash($"TMPDIR={Shell.Quote(Dir)} bash {Shell.Quote(script)} {Shell.Quote(Path.Combine(Dir, "out"))}", TimeSpan.FromMinutes(6));
        clock.Stop();
        if (run.ExitCode != 0) throw new InvalidOperationException($"build-deb.sh exited {run.ExitCode}:\n{run.Output}");
        var deb = run.Stdout.TrimEnd().Split('\n')[^1];

        var root = Path.Combine(Dir, "root");
        var control = Path.Combine(Dir, "control");
        foreach (var (flag, into) in new[] { ("-x", root), ("-e", control) })
        {
            var r = Shell.Run("dpkg-deb", [flag, deb, into]);
            if (r.ExitCode != 0) throw new InvalidOperationException($"dpkg-deb {flag} failed:\n{r.Output}");
        }
        return new Built(deb, root, control, clock.Elapsed);
    }

    public void Dispose()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }

    private sealed record Built(string Deb, string Root, string Control, TimeSpan Time);
}
