using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Outbox.EntityFrameworkCore;

/// <summary>
/// The EF Core model of the outbox table. Column names, types and indexes match the SQL schema script of the
/// PostgreSQL package exactly (a test compares the two), so migrations and the script create the same table.
/// </summary>
internal static class OutboxModel
{
    /// <summary>
    /// The properties written by the database (commit_seq, at commit) or by the relays later, never by an insert: leaving
    /// them out of EF's INSERT makes each outbox row four parameters lighter. They stay NULL, which is their value at insert.
    /// </summary>
    public static readonly string[] RelayWrittenProperties =
        [nameof(OutboxMessage.CommitSequence), nameof(OutboxMessage.LastError), nameof(OutboxMessage.NextAttemptAt), nameof(OutboxMessage.PublishedAt)];

    /// <summary>Validates the schema and table names (and the names derived from them) and returns them.</summary>
    /// <exception cref="OutboxConfigurationException">A name is not a plain identifier, or a derived name is too long.</exception>
    public static (string Schema, string Table) ValidatedNames(OutboxOptions options)
    {
        var schema = SqlIdentifier.Validate(options.Schema, nameof(OutboxOptions.Schema));
        var table = SqlIdentifier.Validate(options.MessagesTable, nameof(OutboxOptions.MessagesTable));
        if (DerivedObjectNames.Problems(options) is [_, ..] problems)
        {
            throw new OutboxConfigurationException(string.Join(" ", problems));
        }

        return (schema, table);
    }

    public static void Apply(ModelBuilder modelBuilder, OutboxOptions options)
    {
        var (schema, table) = ValidatedNames(options);

        modelBuilder.Entity<OutboxMessage>(e =>
        {
            e.ToTable(table, schema);
            e.HasKey(m => m.Id).HasName(OutboxColumns.PrimaryKeyName(table));
            e.Property(m => m.Id).HasColumnName(OutboxColumns.Id).HasColumnType("uuid").ValueGeneratedNever();
            e.Property(m => m.AggregateType).HasColumnName(OutboxColumns.AggregateType).HasColumnType("text").IsRequired();
            e.Property(m => m.AggregateId).HasColumnName(OutboxColumns.AggregateId).HasColumnType("text").IsRequired();
            e.Property(m => m.Type).HasColumnName(OutboxColumns.Type).HasColumnType("text").IsRequired();
            e.Property(m => m.Payload).HasColumnName(OutboxColumns.Payload).HasColumnType("jsonb").IsRequired();
            e.Property(m => m.Lane).HasColumnName(OutboxColumns.Lane).HasColumnType("integer");
            e.Property(m => m.CommitSequence).HasColumnName(OutboxColumns.CommitSequence).HasColumnType("bigint");
            e.Property(m => m.CreatedAt).HasColumnName(OutboxColumns.CreatedAt).HasColumnType("timestamp with time zone");
            e.Property(m => m.TraceParent).HasColumnName(OutboxColumns.TraceParent).HasColumnType("text");
            e.Property(m => m.TraceState).HasColumnName(OutboxColumns.TraceState).HasColumnType("text");
            e.Property(m => m.Attempts).HasColumnName(OutboxColumns.Attempts).HasColumnType("integer");
            e.Property(m => m.LastError).HasColumnName(OutboxColumns.LastError).HasColumnType("text");
            e.Property(m => m.NextAttemptAt).HasColumnName(OutboxColumns.NextAttemptAt).HasColumnType("timestamp with time zone");
            e.Property(m => m.PublishedAt).HasColumnName(OutboxColumns.PublishedAt).HasColumnType("timestamp with time zone");

            foreach (var relayColumn in RelayWrittenProperties)
            {
                e.Property(relayColumn).Metadata.SetBeforeSaveBehavior(PropertySaveBehavior.Ignore);
            }

            e.HasIndex(m => new { m.Lane, m.CommitSequence })
                .HasDatabaseName(OutboxColumns.LaneIndexName(table))
                .HasFilter(OutboxColumns.PublishedAt + " IS NULL");
        });
    }
}
