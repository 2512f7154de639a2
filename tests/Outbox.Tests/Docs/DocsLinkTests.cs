using System.Text;
using System.Text.RegularExpressions;

namespace Outbox.Tests.Docs;

/// <summary>
/// README.md and docs/*.md: every relative link and #anchor resolves, every page is in the index (docs/README.md), and a
/// page that names another page links to it.
/// </summary>
public sealed partial class DocsLinkTests
{
    [Fact]
    public void Every_relative_link_and_anchor_resolves()
    {
        var root = RepositoryRoot();
        var problems = new List<string>();
        foreach (var page in Pages(root))
        {
            var text = WithoutCode(File.ReadAllText(page));
            foreach (Match link in Link().Matches(text))
            {
                var target = link.Groups["target"].Value;
                if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
                {
                    continue;
                }

                var hash = target.IndexOf('#', StringComparison.Ordinal);
                var path = hash < 0 ? target : target[..hash];
                var anchor = hash < 0 ? null : target[(hash + 1)..];
                var resolved = path.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, Uri.UnescapeDataString(path)));
                var where = $"{Path.GetRelativePath(root, page)}: ({target})";
                if (!File.Exists(resolved) && !Directory.Exists(resolved))
                {
                    problems.Add($"{where}: {Path.GetRelativePath(root, resolved)} does not exist");
                }
                else if (anchor is not null && !(resolved.EndsWith(".md", StringComparison.Ordinal) && Anchors(File.ReadAllText(resolved)).Contains(anchor)))
                {
                    problems.Add($"{where}: no heading with the anchor #{anchor}");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void The_index_links_every_page_of_docs()
    {
        var root = RepositoryRoot();
        var index = File.ReadAllText(Path.Combine(root, "docs", "README.md"));
        var linked = Link().Matches(WithoutCode(index)).Select(m => m.Groups["target"].Value.Split('#')[0]).ToHashSet(StringComparer.Ordinal);
        var missing = Directory.GetFiles(Path.Combine(root, "docs"), "*.md")
            .Select(Path.GetFileName)
            .Where(name => name != "README.md" && !linked.Contains(name!))
            .ToList();
        Assert.True(missing.Count == 0, "docs/README.md does not link " + string.Join(", ", missing));
    }

    [Fact]
    public void A_page_that_names_another_page_links_to_it()
    {
        var root = RepositoryRoot();
        var pages = Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var page in Pages(root))
        {
            // Names outside links: the link syntax itself is removed first, code blocks are not pages' prose.
            var prose = Link().Replace(WithoutCode(File.ReadAllText(page)), "");
            foreach (Match mention in PageName().Matches(prose))
            {
                if (pages.Contains(mention.Groups["name"].Value) && !mention.Value.Contains("README", StringComparison.Ordinal))
                {
                    problems.Add($"{Path.GetRelativePath(root, page)} names {mention.Value} without a link");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems.Distinct()));
    }

    /// <summary>GitHub's heading anchors: lower case, punctuation other than '-' and '_' removed, spaces as '-', repeats numbered.</summary>
    internal static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match heading in Heading().Matches(WithoutCode(markdown)))
        {
            var text = Link().Replace(heading.Groups["text"].Value.Trim(), m => m.Groups["text"].Value);
            var slug = new StringBuilder();
            foreach (var c in text.ToLowerInvariant())
            {
                if (char.IsLetterOrDigit(c) || c is '-' or '_')
                {
                    slug.Append(c);
                }
                else if (c == ' ')
                {
                    slug.Append('-');
                }
            }

            var anchor = slug.ToString();
            var count = seen.GetValueOrDefault(anchor);
            seen[anchor] = count + 1;
            anchors.Add(count == 0 ? anchor : $"{anchor}-{count}");
        }

        return anchors;
    }

    private static IEnumerable<string> Pages(string root) =>
        Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Prepend(Path.Combine(root, "README.md"));

    /// <summary>The text without fenced code blocks and inline code spans (links in them are not links).</summary>
    private static string WithoutCode(string markdown) => InlineCode().Replace(Fence().Replace(markdown, ""), m => m.Value.Replace("](", "] (", StringComparison.Ordinal));

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Outbox.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Outbox.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"!?\[(?<text>(?:[^\[\]]|\[[^\]]*\])*)\]\((?<target>[^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Fence();

    [GeneratedRegex(@"`[^`]+`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"^#{1,6}\s+(?<text>.+?)\s*#*\s*$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"(?:docs/)?\b(?<name>[a-z][a-z0-9-]*\.md)\b")]
    private static partial Regex PageName();
}
