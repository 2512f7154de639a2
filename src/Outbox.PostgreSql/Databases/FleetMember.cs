using Npgsql;
using Outbox.Relay;

namespace Outbox.PostgreSql.Databases;

/// <summary>One database of the fleet in this process: its own pool and, with the polling relay, its own relay.</summary>
internal sealed class FleetMember(OutboxDatabase database, NpgsqlDataSource dataSource, bool listening, BacklogSampler backlog)
{
    /// <summary>Gets the server (host and port) it is on: its activity is read with the other databases of that server.</summary>
    public string Cluster { get; } = ClusterOf(database.ConnectionString, out _);

    /// <summary>Gets PostgreSQL's name of the database (in <c>pg_stat_database</c>).</summary>
    public string DatabaseName { get; } = DatabaseNameOf(database.ConnectionString);

    /// <summary>Gets the reader of its backlog for the gauges.</summary>
    public BacklogSampler Backlog { get; } = backlog;

    public OutboxDatabase Database { get; } = database;

    public NpgsqlDataSource DataSource { get; } = dataSource;

    /// <summary>Gets whether its relay listens for new rows (else it polls).</summary>
    public bool Listening { get; } = listening;

    public PollingRelay? Relay { get; set; }

    public PollingRelayHostedService? Host { get; set; }

    /// <summary>Gets or sets the database's CDC relay (with <c>AddCdcRelay()</c>), on the slot of its own.</summary>
    public Cdc.CdcRelayService? Cdc { get; set; }

    /// <summary>Gets or sets what the CDC relay is doing.</summary>
    public CdcRelayMonitor? CdcMonitor { get; set; }

    /// <summary>Gets or sets what the CDC relay has published, for the monitor.</summary>
    public Cdc.CdcAcknowledger? CdcAcknowledger { get; set; }

    /// <summary>Gets or sets whether the database is served: its schema is ensured (when asked) and its relay, if any, started.</summary>
    public bool Started { get; set; }

    /// <summary>Gets or sets why the database is not served, when it is not.</summary>
    public string? Problem { get; set; }

    private static string ClusterOf(string connectionString, out string name)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        name = builder.Database ?? builder.Username ?? "";
        return (builder.Host ?? "").ToUpperInvariant() + ":" + builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string DatabaseNameOf(string connectionString)
    {
        _ = ClusterOf(connectionString, out var name);
        return name;
    }
}
