namespace Outbox.IntegrationTests.Infrastructure;

/// <summary>Files of the repository that tests read (the docs whose statements they run).</summary>
public static class RepositoryFiles
{
    /// <summary>Reads a file by its path from the repository root (the directory of Outbox.sln above the test binaries).</summary>
    public static string Read(params string[] path) => File.ReadAllText(Path.Combine([Root(), .. path]));

    public static string Root()
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
}
