using System.Text;
using LoadBalancer.Cli.Configuration.Sections;
using LoadBalancer.Cli.Configuration.Yaml;
using LoadBalancer.Core.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LoadBalancer.Cli.Configuration;

/// <summary>Reads the YAML config into a <see cref="BalancerConfig"/>: the file, then the document (one YAML
/// mapping), then one reader per section under Sections/ (root, service, backend, health, cluster, timeouts),
/// each with its own key list, over the toolkit in Yaml/. Never throws on bad input: every problem found becomes
/// a <see cref="ConfigError"/> with its line, and all of them are reported, not only the first.</summary>
public static class ConfigLoader
{
    /// <summary>Reads and parses <paramref name="path"/>. Errors name the file as given; on success
    /// <see cref="BalancerConfig.SourcePath"/> is the full path, so a later reload does not depend on
    /// the working directory.</summary>
    public static ConfigLoadResult Load(string path)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (Directory.Exists(path))
                return Failed(path, 0, "is a directory, not a config file");
            if (!info.Exists)
                return Failed(path, 0, "config file not found");
            if (info.Length > ConfigLimits.MaxFileBytes)
                return Failed(path, 0, $"config file is too large ({info.Length} bytes, the limit is {ConfigLimits.MaxFileBytes})");
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return Failed(path, 0, $"cannot read config file: {e.Message}");
        }

        var result = Parse(text, path);
        if (result.Config is null) return result;
        string fullPath;
        try { fullPath = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { fullPath = path; }
        return new ConfigLoadResult(result.Config with { SourcePath = fullPath }, []);
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
            stream.Load(new StringReader(text));
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
