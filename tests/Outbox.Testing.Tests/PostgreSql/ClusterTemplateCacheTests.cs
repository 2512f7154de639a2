using System.Diagnostics;
using Xunit.Abstractions;

namespace Outbox.Testing.Tests;

/// <summary>initdb once per machine: clusters start from a copy of a cached template; a damaged template is rebuilt.</summary>
public sealed class ClusterTemplateCacheTests(ITestOutputHelper output) : IDisposable
{
    // A cache of its own (next to the clusters, so that the server's user can enter it when we are root): these tests
    // need to see initdb run, which the machine's shared cache would hide.
    private readonly string _cacheDirectory = Path.Combine(
        LocalPostgresCluster.BaseDirectory(), "outbox-template-test-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => LocalPostgresCluster.DeleteDirectory(_cacheDirectory, TestOutputLog.For(output));

    [Fact]
    public async Task A_later_cluster_starts_from_the_template_without_initdb_and_keeps_its_own_settings()
    {
        var binaries = await BinariesAsync();

        var clock = Stopwatch.StartNew();
        await using var first = await StartAsync(binaries, new Dictionary<string, string> { ["max_slot_wal_keep_size"] = "64MB" });
        output.WriteLine($"first cluster (builds the template): {clock.ElapsedMilliseconds} ms");
        clock.Restart();
        await using var second = await StartAsync(binaries);
        output.WriteLine($"second cluster (copies the template): {clock.ElapsedMilliseconds} ms");

        Assert.True(first.RanInitDb);
        Assert.False(second.RanInitDb);
        Assert.Equal(1, await PostgresServerTests.ScalarAsync<int>(Admin(second), "SELECT 1"));
        Assert.Equal("64MB", await PostgresServerTests.ScalarAsync<string>(Admin(first), "SHOW max_slot_wal_keep_size"));
        Assert.Equal("-1", await PostgresServerTests.ScalarAsync<string>(Admin(second), "SHOW max_slot_wal_keep_size"));
        Assert.Equal("logical", await PostgresServerTests.ScalarAsync<string>(Admin(second), "SHOW wal_level"));
        Assert.Equal(second.Port, await PostgresServerTests.ScalarAsync<int>(Admin(second), "SELECT current_setting('port')::int"));

        if (!OperatingSystem.IsWindows())
        {
            // PostgreSQL insists on a private data directory owned by the user that runs it (postgres when we are root).
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(second.DataDirectory));
            var templateData = Path.Combine(Cache(binaries).TemplateDirectory, "data");
            Assert.Equal(UnixUser.OwnerOf(templateData), UnixUser.OwnerOf(second.DataDirectory));
            Assert.Equal(UnixUser.IsRoot, UnixUser.OwnerOf(second.DataDirectory) != 0);
        }
    }

    [Theory]
    [InlineData("marker missing")]
    [InlineData("marker of another template")]
    [InlineData("control file missing")]
    [InlineData("half built: data directory only")]
    public async Task A_damaged_template_is_rebuilt_never_used(string damage)
    {
        var binaries = await BinariesAsync();
        var cache = Cache(binaries);
        var marker = Path.Combine(cache.TemplateDirectory, ClusterTemplateCache.MarkerFileName);
        if (damage == "half built: data directory only")
        {
            Directory.CreateDirectory(Path.Combine(cache.TemplateDirectory, "data", "global"));
            await File.WriteAllTextAsync(Path.Combine(cache.TemplateDirectory, "data", "PG_VERSION"), "15\n");
        }
        else
        {
            await using (var builder = await StartAsync(binaries))
            {
                Assert.True(builder.RanInitDb);
            }

            Assert.True(cache.IsComplete());
            switch (damage)
            {
                case "marker missing":
                    File.Delete(marker);
                    break;
                case "marker of another template":
                    await File.WriteAllTextAsync(marker, "outbox-pg-template 0\n");
                    break;
                case "control file missing":
                    File.Delete(Path.Combine(cache.TemplateDirectory, "data", "global", "pg_control"));
                    break;
            }
        }

        Assert.False(cache.IsComplete());

        await using var cluster = await StartAsync(binaries);

        Assert.True(cluster.RanInitDb);
        Assert.Equal(1, await PostgresServerTests.ScalarAsync<int>(Admin(cluster), "SELECT 1"));
        Assert.True(cache.IsComplete());
        await using var next = await StartAsync(binaries);
        Assert.False(next.RanInitDb);
    }

    [Fact]
    public async Task Two_clusters_starting_at_once_on_an_empty_cache_both_work_and_initdb_runs_once()
    {
        var binaries = await BinariesAsync();

        var clock = Stopwatch.StartNew();
        var clusters = await Task.WhenAll(StartAsync(binaries), StartAsync(binaries));
        output.WriteLine($"two clusters at once on an empty cache: {clock.ElapsedMilliseconds} ms");
        await using var first = clusters[0];
        await using var second = clusters[1];

        Assert.Equal(1, clusters.Count(cluster => cluster.RanInitDb));
        Assert.NotEqual(first.Port, second.Port);
        foreach (var cluster in clusters)
        {
            Assert.Equal(1, await PostgresServerTests.ScalarAsync<int>(Admin(cluster), "SELECT 1"));
        }

        Assert.Single(Directory.EnumerateDirectories(_cacheDirectory));
    }

    [Fact]
    public async Task A_cache_directory_that_others_may_write_into_is_not_used()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var binaries = await BinariesAsync();
        Directory.CreateDirectory(_cacheDirectory);
        File.SetUnixFileMode(_cacheDirectory, (UnixFileMode)0b111_111_111);
        var lines = new List<string>();

        Assert.Null(ClusterTemplateCache.TryOpen(_cacheDirectory, binaries, LocalPostgresCluster.ServerUser, lines.Add));
        Assert.Contains(lines, line => line.Contains("others may write", StringComparison.Ordinal));

        // The cluster still starts: initdb for itself, nothing read from or written to that directory.
        await using var cluster = await StartAsync(binaries);
        Assert.True(cluster.RanInitDb);
        Assert.Equal(1, await PostgresServerTests.ScalarAsync<int>(Admin(cluster), "SELECT 1"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_cacheDirectory));
    }

    [Fact]
    public async Task As_root_a_cache_directory_the_server_user_cannot_reach_is_not_used()
    {
        if (!UnixUser.IsRoot || OperatingSystem.IsWindows())
        {
            return; // Only root hands the data directory to another user.
        }

        var binaries = await BinariesAsync();
        Directory.CreateDirectory(_cacheDirectory);
        File.SetUnixFileMode(_cacheDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var unreachable = Path.Combine(_cacheDirectory, "cache");
        var lines = new List<string>();

        Assert.Null(ClusterTemplateCache.TryOpen(unreachable, binaries, LocalPostgresCluster.ServerUser, lines.Add));
        Assert.Contains(lines, line => line.Contains("cannot reach it", StringComparison.Ordinal));
    }

    [Fact]
    public void The_default_cache_directory_is_per_user_next_to_the_clusters()
    {
        var directory = ClusterTemplateCache.DefaultDirectory();

        if (Environment.GetEnvironmentVariable(ClusterTemplateCache.EnvironmentVariable) is { Length: > 0 } configured)
        {
            Assert.Equal(Path.GetFullPath(configured), directory);
            return;
        }

        var user = UnixUser.EffectiveUserId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Environment.UserName;
        Assert.Equal(Path.Combine(LocalPostgresCluster.BaseDirectory(), "outbox-pgtemplates-" + user), directory);
    }

    private ClusterTemplateCache Cache(PostgresBinaries binaries) =>
        ClusterTemplateCache.TryOpen(_cacheDirectory, binaries, LocalPostgresCluster.ServerUser, TestOutputLog.For(output))!;

    private Task<LocalPostgresCluster> StartAsync(PostgresBinaries binaries, IEnumerable<KeyValuePair<string, string>>? settings = null) =>
        LocalPostgresCluster.StartNewAsync(
            binaries, settings ?? [], TestOutputLog.For(output), TimeSpan.FromSeconds(60), CancellationToken.None, templateCacheDirectory: _cacheDirectory);

    private static string Admin(LocalPostgresCluster cluster) =>
        $"Host=127.0.0.1;Port={cluster.Port};Username=postgres;Database=postgres;Pooling=false";

    private static async Task<PostgresBinaries> BinariesAsync()
    {
        var binaries = await PostgresBinaries.FindAsync(CancellationToken.None);
        Assert.NotNull(binaries);
        return binaries;
    }
}
