namespace Outbox.Testing;

/// <summary>Options for <see cref="PostgresServer.StartAsync"/>.</summary>
public sealed class PostgresServerOptions
{
    /// <summary>The default Docker image for <see cref="PostgresServerKind.Container"/>.</summary>
    public const string DefaultContainerImage = "postgres:15-alpine";

    /// <summary>
    /// Gets server settings (<c>postgresql.conf</c> names and values, such as <c>max_slot_wal_keep_size</c> =
    /// <c>64MB</c>) applied before the server starts. They override the defaults (<c>wal_level=logical</c>,
    /// <c>max_replication_slots=10</c>, <c>max_wal_senders=10</c>, <c>fsync=off</c>, <c>full_page_writes=off</c>,
    /// <c>max_wal_size=4GB</c>, <c>max_connections=300</c>, <c>track_commit_timestamp=on</c>, and for a local cluster <c>shared_buffers=256MB</c>).
    /// </summary>
    /// <value>Empty by default. Applied to <see cref="PostgresServerKind.LocalCluster"/> (in <c>postgresql.conf</c>)
    /// and <see cref="PostgresServerKind.Container"/> (as <c>-c</c> arguments); an
    /// <see cref="PostgresServerKind.Environment"/> server is never reconfigured, so they are ignored there (and logged).
    /// Check <see cref="PostgresServer.Kind"/>, or set <see cref="Kind"/>, when a test depends on them.</value>
    public IDictionary<string, string> Settings { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets the only kind of server to use, or <see langword="null"/> to choose automatically.</summary>
    /// <value>The default is <see langword="null"/>: <c>OUTBOX_TEST_POSTGRES</c> when set, else a container when a
    /// Docker engine answers, else a local cluster. Tests that need <see cref="PostgresServer.RestartAsync"/> set
    /// <see cref="PostgresServerKind.LocalCluster"/>.</value>
    public PostgresServerKind? Kind { get; set; }

    /// <summary>Gets or sets a sink for progress lines: which kind was chosen, why, and how long the start took.</summary>
    /// <value>The default is <see langword="null"/> (no logging).</value>
    public Action<string>? Log { get; set; }

    /// <summary>Gets or sets the Docker image used for <see cref="PostgresServerKind.Container"/>.</summary>
    /// <value>The default is <see cref="DefaultContainerImage"/>.</value>
    public string ContainerImage { get; set; } = DefaultContainerImage;

    /// <summary>Gets or sets how long the server may take to accept connections after being started.</summary>
    /// <value>The default is 60 seconds.</value>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
