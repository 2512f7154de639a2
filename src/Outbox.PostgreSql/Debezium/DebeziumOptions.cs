using System.ComponentModel.DataAnnotations;
using Outbox.PostgreSql;

namespace Outbox;

/// <summary>
/// Options of Debezium mode: what <see cref="DebeziumConnectorConfig"/> puts in the Kafka Connect configuration of
/// Debezium's PostgreSQL connector. See docs/debezium.md.
/// </summary>
public sealed class DebeziumOptions
{
    /// <summary>Gets or sets the Kafka Connect connector name.</summary>
    /// <value>The default is <c>outbox</c>.</value>
    [Required]
    public string ConnectorName { get; set; } = "outbox";

    /// <summary>Gets or sets the Npgsql connection string the connector's <c>database.*</c> settings come from.</summary>
    /// <value>The default is <see langword="null"/>: the connection string given to <c>UsePostgreSql(...)</c>.</value>
    public string? ConnectionString { get; set; }

    /// <summary>Gets or sets the host name Kafka Connect reaches the database at, when it differs from the connection string's
    /// (for example the service name in a container network).</summary>
    /// <value>The default is <see langword="null"/>: the connection string's host.</value>
    public string? DatabaseHostname { get; set; }

    /// <summary>Gets or sets the port Kafka Connect reaches the database at, when it differs from the connection string's.</summary>
    /// <value>The default is <see langword="null"/>: the connection string's port.</value>
    [Range(1, 65535)]
    public int? DatabasePort { get; set; }

    /// <summary>Gets or sets the value of <c>database.password</c>, typically a Kafka Connect config provider reference such as
    /// <c>${file:/opt/secrets/outbox.properties:password}</c>, so that no secret is in the generated JSON.</summary>
    /// <value>The default is <see langword="null"/>: the connection string's password, if it has one; else the setting is left out.</value>
    public string? DatabasePassword { get; set; }

    /// <summary>Gets or sets Debezium's <c>topic.prefix</c>: it names the connector's own topics (heartbeats, schema changes),
    /// not the outbox topics, which come from <see cref="OutboxOptions.TopicTemplate"/>.</summary>
    /// <value>The default is <c>outbox</c>.</value>
    [Required]
    public string TopicPrefix { get; set; } = "outbox";

    /// <summary>Gets or sets the name of Debezium's replication slot (Debezium creates it).</summary>
    /// <value>The default is <c>outbox_debezium</c>: not the CDC relay's slot, so the two modes never share a position.</value>
    [Required]
    public string SlotName { get; set; } = "outbox_debezium";

    /// <summary>Gets or sets the name of the publication the connector reads (<c>FOR TABLE</c> the outbox table
    /// <c>WITH (publish = 'insert')</c>).</summary>
    /// <value>The default is <c>outbox</c>, the same definition the CDC relay uses.</value>
    [Required]
    public string PublicationName { get; set; } = "outbox";

    /// <summary>Gets or sets a value indicating whether the application creates the publication when the host starts.
    /// The generated configuration sets <c>publication.autocreate.mode=disabled</c>, so it must exist before the connector starts.</summary>
    /// <value>The default is <see langword="true"/>. Creating a publication needs ownership of the outbox table.</value>
    public bool CreatePublicationOnStart { get; set; } = true;

    /// <summary>Gets further connector settings, added last (they override the generated ones: changing the mapping
    /// settings breaks the record contract).</summary>
    /// <value>Empty by default. A typical addition is <c>heartbeat.interval.ms</c>.</value>
    public IDictionary<string, string> AdditionalProperties { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
}
