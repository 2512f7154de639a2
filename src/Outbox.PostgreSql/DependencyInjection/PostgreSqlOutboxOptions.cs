using System.ComponentModel.DataAnnotations;

namespace Outbox.PostgreSql;

/// <summary>Options of the PostgreSQL store.</summary>
public sealed class PostgreSqlOutboxOptions
{
    /// <summary>Gets or sets the connection string of the database that holds the outbox tables.</summary>
    /// <value>No default: required.</value>
    [Required]
    public string ConnectionString { get; set; } = "";

    /// <summary>Gets or sets a value indicating whether the outbox schema is created (idempotently) when the host starts.</summary>
    /// <value>The default is <see langword="false"/>: production schemas are usually managed by migrations or <see cref="OutboxSchema.CreateScript"/>.</value>
    public bool EnsureSchemaOnStart { get; set; }
}
