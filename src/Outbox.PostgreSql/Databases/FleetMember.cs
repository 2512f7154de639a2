using Npgsql;
using Outbox.Relay;

namespace Outbox.PostgreSql.Databases;

/// <summary>One database of the fleet in this process: its own pool and, with the polling relay, its own relay.</summary>
internal sealed class FleetMember(OutboxDatabase database, NpgsqlDataSource dataSource, bool listening, BacklogSampler backlog)
{
    /// <summary>Gets the reader of its backlog for the gauges.</summary>
    public BacklogSampler Backlog { get; } = backlog;

    public OutboxDatabase Database { get; } = database;

    public NpgsqlDataSource DataSource { get; } = dataSource;

    /// <summary>Gets whether its relay listens for new rows (else it polls).</summary>
    public bool Listening { get; } = listening;

    public PollingRelay? Relay { get; set; }

    public PollingRelayHostedService? Host { get; set; }

    /// <summary>Gets or sets whether the database is served: its schema is ensured (when asked) and its relay, if any, started.</summary>
    public bool Started { get; set; }

    /// <summary>Gets or sets why the database is not served, when it is not.</summary>
    public string? Problem { get; set; }
}
