using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Outbox.PostgreSql.Databases;

namespace Outbox.PostgreSql;

/// <summary>
/// What the outbox of this process does in each of its databases (<c>UsePostgreSqlDatabases</c>): resolve it from the
/// service provider (a singleton), for a dashboard or a health check of your own. <c>AddOutboxHealthChecks()</c> uses it already.
/// </summary>
public sealed class OutboxFleetMonitor
{
    private readonly OutboxRelayFleet _fleet;
    private readonly OutboxOptions _options;
    private readonly TimeProvider _timeProvider;

    internal OutboxFleetMonitor(OutboxRelayFleet fleet, IOptions<OutboxOptions> options, TimeProvider timeProvider)
    {
        _fleet = fleet;
        _options = options.Value;
        _timeProvider = timeProvider;
    }

    /// <summary>Gets why the database source could not be read at the last refresh (the databases known before keep
    /// running), or <see langword="null"/>.</summary>
    public string? SourceProblem => _fleet.SourceProblem;

    /// <summary>Gets each database this process serves or tries to, in name order.</summary>
    public IReadOnlyList<OutboxDatabaseState> Databases =>
        [.. _fleet.Members.Select(m =>
        {
            var lanes = m.Relay?.Scheduler.Leases().Select(l => l.Lane).Order().ToArray() ?? [];
            if (m.CdcMonitor is { } cdc)
            {
                var state = cdc.State;
                var problem = m.Problem ?? (state is CdcRelayState.Faulted or CdcRelayState.Retrying ? $"CDC relay {state}: {cdc.LastError}" : null);
                return new OutboxDatabaseState(
                    m.Database.Name, m.Started, true, false, state is CdcRelayState.Streaming or CdcRelayState.Standby, lanes,
                    cdc.PublishedCount, 0, problem) { CdcState = state };
            }

            return new OutboxDatabaseState(
                m.Database.Name, m.Started, m.Relay is not null, m.Listening, m.Relay?.HeartbeatValid ?? false, lanes,
                m.Relay?.Published ?? 0, m.Relay?.Parked ?? 0, m.Problem);
        })];

    /// <summary>
    /// Reads the status of every database (<see cref="OutboxAdministration.GetStatusAsync"/>: pending rows, oldest age,
    /// leases, parked keys, dead letters), a few databases at a time; a database that cannot be read has its error instead.
    /// </summary>
    /// <param name="cancellationToken">Cancels the queries.</param>
    /// <returns>One entry per database, in name order.</returns>
    public async Task<IReadOnlyList<OutboxDatabaseStatus>> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var members = _fleet.Members;
        var results = new OutboxDatabaseStatus[members.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, members.Count),
            new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var member = members[i];
                try
                {
                    var status = await new OutboxAdministration(member.DataSource, _options, _timeProvider).GetStatusAsync(ct).ConfigureAwait(false);
                    results[i] = new OutboxDatabaseStatus(member.Database.Name, status, null);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    results[i] = new OutboxDatabaseStatus(member.Database.Name, null, ex.Message);
                }
            }).ConfigureAwait(false);
        return results;
    }

    /// <summary>
    /// Checks the databases: Healthy when each is served (and, with the polling relay, its lease heartbeat is valid);
    /// Degraded when some are not, naming them; Unhealthy when none is, or when the source fails and no database is known.
    /// </summary>
    /// <returns>The result, with the failing databases and their problems in its data.</returns>
    public HealthCheckResult CheckHealth()
    {
        var databases = Databases;
        var failing = databases
            .Select(d => (d.Name, Problem: d.Problem ?? (!d.Served ? "not started yet"
                : d.Relaying && !d.HeartbeatValid ? (d.CdcState is { } state ? $"CDC relay {state}" : "no valid lease heartbeat: its relay drains nothing")
                : null)))
            .Where(d => d.Problem is not null)
            .ToList();
        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["outbox.databases"] = databases.Count, ["outbox.databases.failing"] = failing.Count };
        foreach (var (name, problem) in failing.Take(20))
        {
            data[$"{MessagingAttributes.OutboxDatabase}.{name}"] = problem!;
        }

        if (SourceProblem is { } sourceProblem)
        {
            data["outbox.databases.source"] = sourceProblem;
            if (databases.Count == 0)
            {
                return HealthCheckResult.Unhealthy($"The outbox database source fails and no database is served: {sourceProblem}", data: data);
            }
        }

        if (failing.Count == 0)
        {
            return SourceProblem is null
                ? HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"{databases.Count} outbox database(s) served."), data)
                : HealthCheckResult.Degraded(string.Create(CultureInfo.InvariantCulture, $"{databases.Count} outbox database(s) served, but the database source fails: {SourceProblem}"), data: data);
        }

        var names = string.Join(", ", failing.Take(5).Select(f => $"{f.Name} ({f.Problem})")) + (failing.Count > 5 ? ", ..." : "");
        var description = string.Create(CultureInfo.InvariantCulture, $"{failing.Count} of {databases.Count} outbox database(s) not served: {names}")
                          + (SourceProblem is null ? "" : "; the database source fails: " + SourceProblem);
        return failing.Count == databases.Count ? HealthCheckResult.Unhealthy(description, data: data) : HealthCheckResult.Degraded(description, data: data);
    }
}

/// <summary>One database of the outbox in this process.</summary>
/// <param name="Name">The database's name.</param>
/// <param name="Served">Whether it is served: its schema is ensured (when asked) and its relay, if any, runs.</param>
/// <param name="Relaying">Whether a relay (polling or CDC) runs on it in this process.</param>
/// <param name="Listening">Whether that polling relay listens for new rows (else it polls, see <see cref="OutboxDatabasesOptions.MaxListeningDatabases"/>).</param>
/// <param name="HeartbeatValid">Polling: whether the relay's lease heartbeat is valid (while it is not, it publishes
/// nothing). CDC: whether the relay streams from the database's slot or is a standby for it.</param>
/// <param name="OwnedLanes">The lanes of this database whose lease this process holds (polling).</param>
/// <param name="PublishedCount">Events of this database the broker acknowledged from this process since it started.</param>
/// <param name="ParkedCount">Keys of this database this process's polling relay parked since it started.</param>
/// <param name="Problem">Why it is not served, or why its relay does not publish, when that is so.</param>
public sealed record OutboxDatabaseState(
    string Name, bool Served, bool Relaying, bool Listening, bool HeartbeatValid, IReadOnlyList<int> OwnedLanes, long PublishedCount, long ParkedCount, string? Problem)
{
    /// <summary>Gets what the database's CDC relay in this process does (streaming, standby, ...); <see langword="null"/> without <c>AddCdcRelay()</c>.</summary>
    public CdcRelayState? CdcState { get; init; }
}

/// <summary>The status of one database (<see cref="OutboxFleetMonitor.GetStatusAsync"/>).</summary>
/// <param name="Name">The database's name.</param>
/// <param name="Status">Its status; <see langword="null"/> when it could not be read.</param>
/// <param name="Error">Why it could not be read.</param>
public sealed record OutboxDatabaseStatus(string Name, OutboxStatus? Status, string? Error);
