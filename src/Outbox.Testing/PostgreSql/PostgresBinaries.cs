using System.Globalization;

namespace Outbox.Testing;

/// <summary>The PostgreSQL server programs of this machine (<c>initdb</c>, <c>pg_ctl</c>, <c>postgres</c>).</summary>
internal sealed class PostgresBinaries
{
    private static readonly string[] s_requiredPrograms = ["initdb", "pg_ctl", "postgres"];

    private PostgresBinaries(string directory) => Directory = directory;

    public string Directory { get; }

    public string InitDb => Program("initdb");

    public string PgCtl => Program("pg_ctl");

    public string Postgres => Program("postgres");

    /// <summary>
    /// Finds the server binaries: the highest version under <c>/usr/lib/postgresql/*/bin</c> (Debian, Ubuntu),
    /// then <c>/usr/pgsql-*/bin</c> (RHEL), then <c>pg_config --bindir</c>, then the <c>PATH</c>.
    /// </summary>
    public static async Task<PostgresBinaries?> FindAsync(CancellationToken cancellationToken)
    {
        foreach (var directory in VersionedDirectories("/usr/lib/postgresql", "*", "bin")
                     .Concat(VersionedDirectories("/usr", "pgsql-*", "bin")))
        {
            if (HasServerPrograms(directory))
            {
                return new PostgresBinaries(directory);
            }
        }

        var fromPgConfig = await PgConfigBinDirectoryAsync(cancellationToken).ConfigureAwait(false);
        if (fromPgConfig is not null && HasServerPrograms(fromPgConfig))
        {
            return new PostgresBinaries(fromPgConfig);
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (HasServerPrograms(directory))
            {
                return new PostgresBinaries(directory);
            }
        }

        return null;
    }

    /// <summary>Uses <paramref name="directory"/> when it holds the server programs (tests point it anywhere).</summary>
    public static PostgresBinaries? FromDirectory(string directory) =>
        HasServerPrograms(directory) ? new PostgresBinaries(directory) : null;

    public override string ToString() => Directory;

    private string Program(string name) => Path.Combine(Directory, OperatingSystem.IsWindows() ? name + ".exe" : name);

    private static bool HasServerPrograms(string directory) =>
        System.IO.Directory.Exists(directory)
        && s_requiredPrograms.All(name =>
            File.Exists(Path.Combine(directory, OperatingSystem.IsWindows() ? name + ".exe" : name)));

    /// <summary>Directories like <c>/usr/lib/postgresql/15/bin</c>, highest version first.</summary>
    private static List<string> VersionedDirectories(string root, string pattern, string leaf)
    {
        if (!System.IO.Directory.Exists(root))
        {
            return [];
        }

        try
        {
            return System.IO.Directory.EnumerateDirectories(root, pattern)
                .Select(directory => (Directory: directory, Version: ParseVersion(Path.GetFileName(directory))))
                .Where(candidate => candidate.Version is not null)
                .OrderByDescending(candidate => candidate.Version)
                .Select(candidate => Path.Combine(candidate.Directory, leaf))
                .ToList();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static Version? ParseVersion(string name)
    {
        var digits = new string(name.SkipWhile(c => !char.IsAsciiDigit(c)).ToArray());
        if (digits.Length == 0)
        {
            return null;
        }

        if (!digits.Contains('.', StringComparison.Ordinal))
        {
            digits += ".0";
        }

        return Version.TryParse(digits, out var version) ? version
            : int.TryParse(digits.Split('.')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major) ? new Version(major, 0)
            : null;
    }

    private static async Task<string?> PgConfigBinDirectoryAsync(CancellationToken cancellationToken)
    {
        try
        {
            var result = await ExternalProcess
                .RunAsync(new ProcessCommand("pg_config", ["--bindir"]), TimeSpan.FromSeconds(10), cancellationToken)
                .ConfigureAwait(false);
            return result.Succeeded ? result.StandardOutput.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // pg_config is not installed.
            return null;
        }
    }
}
