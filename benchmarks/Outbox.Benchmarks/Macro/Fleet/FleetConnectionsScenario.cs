using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Outbox.Benchmarks.Infrastructure;

namespace Outbox.Benchmarks.Macro.Fleet;

/// <summary>
/// <c>fleet --scenario connections</c>: N empty databases on one cluster, one relay process over all of them (schema
/// ensured at start), idle. After a settle time: the connections it holds (<c>pg_stat_activity</c> by the tenants'
/// <c>application_name</c>), split by state and LISTEN; then its CPU over a window; then, once stopped, what it left
/// behind. Once per <c>MaxListeningDatabases</c> value, on the same databases.
/// </summary>
internal static class FleetConnectionsScenario
{
    public static async Task<FleetConnectionsResult> RunAsync(
        BenchInfrastructure infrastructure, int databases, IReadOnlyList<int> maxListening, int settleSeconds, int cpuSeconds, CancellationToken cancellationToken)
    {
        Progress.Line(Fmt.Inv($"fleet/connections: {databases} databases, MaxListeningDatabases {string.Join(" then ", maxListening)}, {settleSeconds}s settle, {cpuSeconds}s CPU window"));
        await using var fleet = await FleetDatabases.CreateAsync(infrastructure, "bench_fleet_conn", databases, cancellationToken);
        var admin = new NpgsqlConnectionStringBuilder(infrastructure.Postgres.ConnectionString) { Pooling = false, ApplicationName = "outbox-bench-admin" }.ConnectionString;
        var runs = new List<FleetConnectionsRun>();
        foreach (var listening in maxListening)
        {
            runs.Add(await RunOneAsync(infrastructure, fleet, admin, listening, settleSeconds, cpuSeconds, cancellationToken));
        }

        return new FleetConnectionsResult(databases, fleet.CreationTime.TotalSeconds, settleSeconds, cpuSeconds, runs);
    }

    private static async Task<FleetConnectionsRun> RunOneAsync(
        BenchInfrastructure infrastructure, FleetDatabases fleet, string admin, int maxListening, int settleSeconds, int cpuSeconds, CancellationToken cancellationToken)
    {
        var before = await FleetConnectionCounts.ReadAsync(admin, FleetDatabases.ApplicationName, cancellationToken);
        if (before.Total > 0)
        {
            Progress.Line(Fmt.Inv($"fleet/connections: {before.Total} connections of {FleetDatabases.ApplicationName} exist before the relay starts (left by the previous run)"));
        }

        var workload = new Workload(Workload.NewRunId(), 1);
        IHost? host = FleetRelayHost.Build(fleet.Tenants, infrastructure.BootstrapServers, workload, new AckRecorder(), maxListening);
        try
        {
            var started = Stopwatch.GetTimestamp();
            await host.StartAsync(cancellationToken);
            var start = Stopwatch.GetElapsedTime(started);
            await FleetRelayHost.WaitUntilReadyAsync(host, fleet.Count, TimeSpan.FromMinutes(5), cancellationToken);
            var ready = Stopwatch.GetElapsedTime(started);
            Progress.Line(Fmt.Inv($"fleet/connections (MaxListeningDatabases {maxListening}): StartAsync returned after {start.TotalSeconds:0.00}s; every lane of every database leased after {ready.TotalSeconds:0.00}s; settling {settleSeconds}s"));
            await Task.Delay(TimeSpan.FromSeconds(settleSeconds), cancellationToken);

            var settled = await FleetConnectionCounts.ReadAsync(admin, FleetDatabases.ApplicationName, cancellationToken);
            var byStatement = await FleetConnectionCounts.ByStatementAsync(admin, FleetDatabases.ApplicationName, 6, cancellationToken);
            await using var adminSource = NpgsqlDataSource.Create(admin);
            var postmaster = await PostgresProcess.PostmasterPidAsync(adminSource, cancellationToken);
            var commitsBefore = await CommitsAsync(admin, fleet.Names, cancellationToken);
            var cpuStart = CpuSnapshot.Take(postmaster);
            var windowStarted = Stopwatch.GetTimestamp();
            await Task.Delay(TimeSpan.FromSeconds(cpuSeconds), cancellationToken);
            var cpu = CpuSnapshot.Take(postmaster).Since(cpuStart, Stopwatch.GetElapsedTime(windowStarted));

            // The statistics collector reports with a delay of up to a second: read the end a second later, divide by the longer span.
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var commits = await CommitsAsync(admin, fleet.Names, cancellationToken) - commitsBefore;
            var transactionsPerSecond = commits / Stopwatch.GetElapsedTime(windowStarted).TotalSeconds;
            var afterWindow = await FleetConnectionCounts.ReadAsync(admin, FleetDatabases.ApplicationName, cancellationToken);
            var workingSet = Environment.WorkingSet / 1024.0 / 1024.0;

            await host.StopAsync(cancellationToken);
            host.Dispose();
            host = null;

            // Backends exit asynchronously after their client closes: give them a moment.
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            var afterStop = await FleetConnectionCounts.ReadAsync(admin, FleetDatabases.ApplicationName, cancellationToken);
            var run = new FleetConnectionsRun(
                maxListening, fleet.Count, start.TotalSeconds, ready.TotalSeconds, settled, afterWindow, afterStop.Total, cpu, transactionsPerSecond, workingSet, byStatement);
            Progress.Line(Fmt.Inv(
                $"fleet/connections (MaxListeningDatabases {maxListening}): {settled.Total} connections held ({settled.Idle} idle, {settled.Active} active, {settled.IdleInTransaction} idle in transaction, {settled.Listening} LISTEN) in {settled.Databases} databases (at most {settled.MostInOneDatabase} in one; per database, since its latest statement: median {settled.MedianIdleSeconds:0.00}s, max {settled.MaxIdleSeconds:0.00}s); {afterWindow.Total} after the CPU window; {afterStop.Total} after stop"));
            Progress.Line(Fmt.Inv($"  idle CPU: relay process {(cpu.DotNet + cpu.Librdkafka) / cpu.WallSeconds:0.000} cores, PostgreSQL {cpu.Postgres / cpu.WallSeconds:0.000} cores, {transactionsPerSecond:N0} PostgreSQL transactions/s in the tenant databases; working set {workingSet:N0} MiB"));
            Progress.Line("  " + cpu.Describe());
            foreach (var line in byStatement)
            {
                Progress.Line("  held: " + line);
            }

            return run;
        }
        finally
        {
            if (host is not null)
            {
                await host.StopAsync(CancellationToken.None);
                host.Dispose();
            }
        }
    }

    /// <summary>Transactions committed in the tenant databases so far (pg_stat_database; read-only ones included).</summary>
    private static async Task<long> CommitsAsync(string admin, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT coalesce(sum(xact_commit), 0)::bigint FROM pg_stat_database WHERE datname = ANY($1)", connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. names] });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
