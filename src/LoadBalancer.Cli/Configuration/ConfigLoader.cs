using System.Text;
using LoadBalancer.Cli.Configuration.Sections;
using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration;

/// <summary>Reads the YAML config into a <see cref="BalancerConfig"/>: the file (a regular one, at most
/// <see cref="ConfigLimits.MaxFileBytes"/>), then the document (one YAML mapping, within the nesting and alias
/// limits <see cref="LimitedParser"/> keeps), then one reader per section under Sections/ (root, service, backend,
/// health, cluster, timeouts), each with its own key list, over the toolkit in Yaml/. Never throws on bad input:
/// every problem found becomes a <see cref="ConfigError"/> with its line, and all of them are reported, not only
/// the first.</summary>
public static class ConfigLoader
{
    /// <summary>Reads and parses <paramref name="path"/>. Errors name the file as given; on success
    /// <see cref="BalancerConfig.SourcePath"/> is the full path, so a later reload does not depend on
    /// the working directory.</summary>
    public static ConfigLoadResult Load(string path)
    {
        if (ReadFile(path, out var text) is { } problem) return Failed(path, 0, problem);

        var result = Parse(text, path);
        if (result.Config is null) return result;
        string fullPath;
        try { fullPath = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { fullPath = path; }
        return new ConfigLoadResult(result.Config with { SourcePath = fullPath }, []);
    }

    /// <summary>The text of the config file, or why it is not one. Only a regular file with contents is read
    /// (a symbolic link to one is), through one open handle, and never more than
    /// <see cref="ConfigLimits.MaxFileBytes"/> + 1 bytes of it.</summary>
    private static string? ReadFile(string path, out string text)
    {
        const string notRegular = "is empty (as a /proc file shows); the config must be a regular file with contents";
        text = "";
        try
        {
            if (Directory.Exists(path)) return "is a directory, not a config file";
            var info = new FileInfo(path);
            if (!info.Exists) return "config file not found";
            // Opening a FIFO waits for a writer, for ever if none comes, and a device need not end: the type is
            // asked first (statx, following links). A /proc or /sys file is regular but no config: a size of 0
            // (what /proc shows) is refused too.
            if (Linux.Kernel.FileKind.Of(path) is { } kind && kind != "regular file") return $"is a {kind}, not a regular file; the config must be a regular file";
            if (info.Length == 0) return notRegular;
            if (info.Length > ConfigLimits.MaxFileBytes) return TooLarge(info.Length);
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            // Again on the open handle (its fstat), in case the path now names another file.
            if (!stream.CanSeek || stream.Length == 0) return notRegular;
            if (stream.Length > ConfigLimits.MaxFileBytes) return TooLarge(stream.Length);
            // One byte past the size fstat gave, so the read ends within the limit even if the file grows meanwhile.
            var contents = new byte[stream.Length + 1];
            var length = 0;
            int read;
            while (length < contents.Length && (read = stream.Read(contents, length, contents.Length - length)) > 0) length += read;
            if (length == contents.Length) return "config file grew while it was read (is it being written?)";
            using var reader = new StreamReader(new MemoryStream(contents, 0, length), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            text = reader.ReadToEnd();
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"cannot read config file: {e.Message}";
        }

        static string TooLarge(long bytes) => $"config file is too large ({bytes} bytes, the limit is {ConfigLimits.MaxFileBytes})";
    }

    /// <summary>Parses config text; <paramref name="sourceName"/> is used in errors and as
    /// <see cref="BalancerConfig.SourcePath"/>.</summary>
    public static ConfigLoadResult Parse(string yamlText, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(yamlText);
        ArgumentNullException.ThrowIfNull(sourceName);
        var reader = new ConfigReader(sourceName);
        var config = Read(reader, yamlText);
        var errors = reader.Errors
            .Select((e, i) => (e, i))
            .OrderBy(x => x.e.Line).ThenBy(x => x.i)
            .Select(x => x.e)
            .ToArray();
        return errors.Length > 0 || config is null
            ? new ConfigLoadResult(null, errors.Length > 0 ? errors : [new ConfigError(sourceName, 0, "config could not be read")])
            : new ConfigLoadResult(config with { SourcePath = sourceName }, []);
    }

    private static ConfigLoadResult Failed(string file, int line, string message) =>
        new(null, [new ConfigError(file, line, message)]);

    /// <summary>One pass over one document: the YAML must parse and be one mapping; its sections do the rest.</summary>
    private static BalancerConfig? Read(ConfigReader r, string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new LimitedParser(new Parser(new StringReader(text))));
        }
        catch (YamlLimitException e)
        {
            r.Error(ConfigReader.LineOf(e.Start), e.Message);
            return null;
        }
        catch (YamlException e)
        {
            r.Error(ConfigReader.LineOf(e.Start), $"invalid YAML: {YamlMessage(e)}");
            return null;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            // The representation model sometimes fails without a position (e.g. on an unclosed
            // flow sequence at the end of the file); the event parser says where it stopped.
            var (line, message) = LocateSyntaxError(text);
            r.Error(line, $"invalid YAML: {message ?? e.Message}");
            return null;
        }

        if (stream.Documents.Count == 0)
        {
            r.Error(1, "config is empty");
            return null;
        }
        if (stream.Documents.Count > 1)
        {
            r.Error(stream.Documents[1].RootNode, "config must be a single YAML document (found another document here)");
            return null;
        }

        var root = stream.Documents[0].RootNode;
        if (root is not YamlMappingNode rootMap)
        {
            r.Error(root, ConfigReader.IsNull(root) ? "config is empty" : "config must be a mapping of settings (key: value)");
            return null;
        }
        return new RootSection(r).Read(rootMap);
    }

    private static (int Line, string? Message) LocateSyntaxError(string text)
    {
        var parser = new Parser(new StringReader(text));
        var line = 1;
        try
        {
            while (parser.MoveNext())
                if (parser.Current is { } current) line = ConfigReader.LineOf(current.End);
        }
        catch (YamlException e)
        {
            return (ConfigReader.LineOf(e.Start), YamlMessage(e));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            return (line, "cannot parse the YAML after this point (is a '[', '{' or quote left open?)");
        }
        return (line, null);
    }

    /// <summary>YamlException.Message starts with "(Line: .., Col: .., Idx: ..) - (Line: ..): "; the
    /// line is reported separately, so keep only the text.</summary>
    private static string YamlMessage(YamlException e)
    {
        var m = e.Message;
        var marker = m.IndexOf("): ", StringComparison.Ordinal);
        if (m.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0) m = m[(marker + 3)..];
        m = m.Trim();
        const string duplicate = "Duplicate key ";
        return m.StartsWith(duplicate, StringComparison.Ordinal) ? $"duplicate key '{m[duplicate.Length..]}'" : m;
    }
}
