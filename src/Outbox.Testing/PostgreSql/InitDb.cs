namespace Outbox.Testing;

/// <summary>Runs <c>initdb</c> the way every private cluster needs it (trust auth, UTF-8, no fsync).</summary>
internal static class InitDb
{
    /// <summary>The arguments besides <c>-D</c> and the locale; part of the template cache's key.</summary>
    public static IReadOnlyList<string> Arguments { get; } = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"];

    /// <summary>Tried in this order: some systems have no C.UTF-8 locale, and the C locale with UTF-8 encoding behaves the same for tests.</summary>
    public static IReadOnlyList<string> LocaleArguments { get; } = ["--locale=C.UTF-8", "--no-locale"];

    /// <summary>Creates <paramref name="dataDirectory"/> with initdb, as <paramref name="runAs"/> when given; returns the locale argument used.</summary>
    /// <exception cref="InvalidOperationException">initdb failed.</exception>
    public static async Task<string> RunAsync(
        PostgresBinaries binaries, string dataDirectory, string? runAs, CancellationToken cancellationToken)
    {
        var workingDirectory = Path.GetDirectoryName(dataDirectory);
        ProcessResult? result = null;
        foreach (var locale in LocaleArguments)
        {
            result = await ExternalProcess.RunAsync(
                    new ProcessCommand(binaries.InitDb, ["-D", dataDirectory, .. Arguments, locale], workingDirectory).AsUser(runAs),
                    TimeSpan.FromMinutes(2),
                    cancellationToken)
                .ConfigureAwait(false);
            if (result.Succeeded)
            {
                return locale;
            }

            if (!result.Output.Contains("locale", StringComparison.OrdinalIgnoreCase))
            {
                break;
            }
        }

        throw new InvalidOperationException($"initdb ({binaries.InitDb}) failed with exit code {result!.ExitCode}: {result.Output}");
    }
}
