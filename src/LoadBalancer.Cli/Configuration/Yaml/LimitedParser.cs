using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace LoadBalancer.Cli.Configuration.Yaml;

/// <summary>YamlDotNet's parser with limits on how deep a document nests and how much its aliases stand for,
/// both counted as if every alias were replaced by the node it names. The representation model keeps one node
/// per anchor, but the section readers walk an alias as if that node were written out again, so a few KiB of
/// aliases of aliases (a "billion laughs") are billions of nodes to read and errors to collect; and the model
/// builds nested collections by recursion, so a deep enough nesting overflows the stack and kills the process
/// before any error could be reported. The model reads its events through this wrapper, which sees each one first
/// and throws <see cref="YamlLimitException"/> at the first collection or alias past a limit
/// (<see cref="ConfigLimits.MaxNestingDepth"/>, <see cref="ConfigLimits.MaxAliasedNodes"/>), so neither the model
/// nor the readers ever see such a document. An alias inside the node it names (which never ends) is refused the
/// same way. A config uses a few aliases for a shared pool or health block; those pass.</summary>
internal sealed class LimitedParser(IParser parser) : IParser
{
    /// <summary>What a node stands for with its aliases expanded: how many nodes, and how many collection
    /// levels it adds (0 for a scalar).</summary>
    private readonly record struct Expansion(long Nodes, int Levels);

    /// <summary>A collection whose end has not come yet: its anchor and what its items stand for so far.</summary>
    private sealed class OpenCollection(AnchorName anchor)
    {
        public AnchorName Anchor { get; } = anchor;
        public long Nodes { get; set; }
        public int Levels { get; set; }
    }

    private readonly Stack<OpenCollection> open = new();

    /// <summary>The last node of each anchor name so far (a later one of the same name hides it, as in YAML);
    /// null while that node is a collection still open, since an alias to it from inside would never end.</summary>
    private readonly Dictionary<string, Expansion?> anchors = new(StringComparer.Ordinal);

    /// <summary>The nodes every alias so far stands for, added up.</summary>
    private long aliasedNodes;

    public ParsingEvent? Current => parser.Current;

    public bool MoveNext()
    {
        if (!parser.MoveNext()) return false;
        switch (parser.Current)
        {
            case DocumentStart:
                // Anchors do not reach across documents; the count of aliased nodes does, so a second
                // document cannot start the budget over.
                anchors.Clear();
                break;
            case Scalar scalar:
                Completed(scalar.Anchor, new Expansion(1, 0));
                break;
            case NodeEvent start when start is SequenceStart or MappingStart:
                if (open.Count >= ConfigLimits.MaxNestingDepth)
                    throw new YamlLimitException(start.Start, $"lists and mappings nest deeper than {ConfigLimits.MaxNestingDepth} levels here");
                if (!start.Anchor.IsEmpty) anchors[start.Anchor.Value] = null;
                open.Push(new OpenCollection(start.Anchor));
                break;
            case SequenceEnd or MappingEnd:
                var done = open.Pop();
                Completed(done.Anchor, new Expansion(done.Nodes + 1, done.Levels + 1));
                break;
            case AnchorAlias alias:
                Expand(alias);
                break;
        }
        return true;
    }

    private void Expand(AnchorAlias alias)
    {
        var name = alias.Value.Value;
        // An alias without an anchor is left to the representation model, which reports it.
        if (!anchors.TryGetValue(name, out var named)) return;
        if (named is not { } expansion)
            throw new YamlLimitException(alias.Start, $"alias *{name} is inside the node it names, so it would never end");
        if (open.Count + expansion.Levels > ConfigLimits.MaxNestingDepth)
            throw new YamlLimitException(alias.Start, $"alias *{name} nests lists and mappings deeper than {ConfigLimits.MaxNestingDepth} levels here");
        aliasedNodes += expansion.Nodes;
        if (aliasedNodes > ConfigLimits.MaxAliasedNodes)
            throw new YamlLimitException(alias.Start,
                $"aliases stand for more than {ConfigLimits.MaxAliasedNodes} nodes in all, {aliasedNodes} with *{name} here " +
                "(aliases of aliases multiply); write the repeated parts out instead");
        Completed(AnchorName.Empty, expansion);
    }

    /// <summary>A whole node has been read: its anchor now names it, and its parent holds it.</summary>
    private void Completed(AnchorName anchor, Expansion expansion)
    {
        if (!anchor.IsEmpty) anchors[anchor.Value] = expansion;
        if (open.TryPeek(out var parent))
        {
            parent.Nodes += expansion.Nodes;
            parent.Levels = Math.Max(parent.Levels, expansion.Levels);
        }
    }
}

/// <summary>A document past one of <see cref="LimitedParser"/>'s limits; <see cref="Start"/> is where.</summary>
internal sealed class YamlLimitException(Mark start, string message) : Exception(message)
{
    public Mark Start { get; } = start;
}
