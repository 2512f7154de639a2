namespace Outbox.Testing;

/// <summary>Where a <see cref="PostgresServer"/> comes from.</summary>
public enum PostgresServerKind
{
    /// <summary>
    /// An existing server named by the <c>OUTBOX_TEST_POSTGRES</c> environment variable (a connection string);
    /// each <see cref="PostgresServer"/> creates and later drops databases of its own there.
    /// </summary>
    Environment,

    /// <summary>A throwaway Docker container started through Testcontainers.</summary>
    Container,

    /// <summary>A private cluster made with this machine's PostgreSQL binaries in a temporary directory.</summary>
    LocalCluster,
}
