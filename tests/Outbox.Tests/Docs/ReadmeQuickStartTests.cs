using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Outbox.Tests.Docs;

/// <summary>
/// The README's quick start names the packages it needs with versions that match the repository's own
/// (samples/QuickStart compiles its code block; this checks the `dotnet add package` lines beside it).
/// </summary>
public sealed partial class ReadmeQuickStartTests
{
    [Fact]
    public void Every_package_the_quick_start_adds_has_the_version_this_repository_builds_with()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var quickStart = readme[readme.IndexOf("## Quick start", StringComparison.Ordinal)..];
        var central = XDocument.Load(Path.Combine(root, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!, StringComparer.OrdinalIgnoreCase);
        var ownVersion = XDocument.Load(Path.Combine(root, "Directory.Build.props")).Descendants("Version").Single().Value;

        var added = AddPackage().Matches(quickStart).Select(m => (Name: m.Groups[1].Value, Version: m.Groups[2].Value)).ToList();
        Assert.Contains(added, p => p.Name == "Npgsql.EntityFrameworkCore.PostgreSQL");
        Assert.Contains(added, p => p.Name == "Outbox.PostgreSql");
        Assert.Contains(added, p => p.Name == "Outbox.Kafka");
        foreach (var (name, version) in added)
        {
            var expected = name.StartsWith("Outbox.", StringComparison.Ordinal) ? ownVersion : central[name];
            Assert.True(expected == version, $"README adds {name} {version}; the repository builds with {expected}.");
        }

        // Every package the compiled quick start references is one the README tells the user to add.
        var project = XDocument.Load(Path.Combine(root, "samples", "QuickStart", "QuickStart.csproj"));
        foreach (var reference in project.Descendants("PackageReference").Select(e => (string)e.Attribute("Include")!))
        {
            Assert.Contains(added, p => p.Name == reference);
        }
    }

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

    [GeneratedRegex(@"dotnet add package (\S+) --version (\S+)")]
    private static partial Regex AddPackage();
}
