using System.Diagnostics;
using Npgsql;
using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// The tenant databases of one fleet run, on the run's PostgreSQL server: created (empty) a few at a time and timed,
/// dropped a few at a time at dispose. Each tenant's connection string names the application
/// (<see cref="ApplicationName"/>), so the connections the relay process holds can be told apart in <c>pg_stat_activity</c>.
/// </summary>
internal sealed class FleetDatabases : IAsyncDisposable
{
    /// <summary>The <c>Application Name</c> of every connection the relay fleet opens (the writers use the plain connection strings).</summary>
    public const string ApplicationName = "outbox-fleet-bench";

    /// <summary>How many <c>CREATE DATABASE</c> (and <c>DROP DATABASE</c>) statements run at once.</summary>
    public const int Parallelism = 4;

    private readonly ScenarioDatabase[] _databases;

    private FleetDatabases(ScenarioDatabase[] databases, TimeSpan creationTime)
    {
        _databases = databases;
        CreationTime = creationTime;
        ConnectionStrings = [.. databases.Select(d => d.ConnectionString)];
        Names = [.. databases.Select(d => new NpgsqlConnectionStringBuilder(d.ConnectionString).Database!)];
        Tenants = [.. databases.Select((d, i) => new OutboxDatabase(TenantName(i), new NpgsqlConnectionStringBuilder(d.ConnectionString) { ApplicationName = ApplicationName }.ConnectionString))];
    }

    public int Count => _databases.Length;

    /// <summary>The databases as the relay fleet is given them: <c>tenant-000</c>, ... with <see cref="ApplicationName"/>.</summary>
    public IReadOnlyList<OutboxDatabase> Tenants { get; }

    /// <summary>The plain connection strings (the writers' and the preload's).</summary>
    public IReadOnlyList<string> ConnectionStrings { get; }

    /// <summary>The PostgreSQL database names.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>How long creating them took.</summary>
    public TimeSpan CreationTime { get; }

    public static string TenantName(int index) => "tenant-" + index.ToString("D3", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<FleetDatabases> CreateAsync(BenchInfrastructure infrastructure, string prefix, int count, CancellationToken cancellationToken)
    {
        var databases = new ScenarioDatabase?[count];
        var started = Stopwatch.GetTimestamp();
        try
        {
            await Parallel.ForEachAsync(
                Enumerable.Range(0, count),
                new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
                async (i, ct) => databases[i] = await infrastructure.CreateDatabaseAsync(prefix, ct));
        }
        catch
        {
            await DropAsync(databases.OfType<ScenarioDatabase>());
            throw;
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        Progress.Line(Fmt.Inv($"created {count} databases in {elapsed.TotalSeconds:0.00}s ({Parallelism} at a time, {elapsed.TotalMilliseconds / count:0} ms per database)"));
        return new FleetDatabases([.. databases.OfType<ScenarioDatabase>()], elapsed);
    }

    public async ValueTask DisposeAsync()
    {
        var started = Stopwatch.GetTimestamp();
        await DropAsync(_databases);
        Progress.Line(Fmt.Inv($"dropped {_databases.Length} databases in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.00}s"));
    }

    private static Task DropAsync(IEnumerable<ScenarioDatabase> databases) =>
        Parallel.ForEachAsync(databases, new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (d, _) => await d.DisposeAsync());
}
