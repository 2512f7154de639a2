using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Outbox;
using Outbox.PostgreSql;

namespace Microsoft.EntityFrameworkCore.Migrations;

/// <summary>
/// One line in an EF Core migration that creates, switches or drops the whole outbox schema (see docs/write-path.md,
/// "EF Core migrations"). The outbox table itself is in your model (<c>UseOutbox</c> or <c>ApplyOutbox</c>), so
/// <c>dotnet ef migrations add</c> scaffolds its <c>CreateTable</c>; these methods add what a model cannot express (the
/// commit-order trigger, the relays' and the inbox's tables) from <see cref="OutboxSchema"/>, the one source of the DDL.
/// </summary>
public static class OutboxMigrationBuilderExtensions
{
    private const string NpgsqlProvider = "Npgsql.EntityFrameworkCore.PostgreSQL";

    /// <summary>
    /// Creates every outbox object that does not exist yet: call it as the <b>last line of <c>Up</c></b> of the migration
    /// that creates the outbox table. It replaces the migration's generated <c>CreateTable</c> (and lane index) of the
    /// outbox table by <see cref="OutboxSchema.CreateScript(OutboxOptions, OutboxCommitOrder)"/>, whose statements are all
    /// idempotent and create the same table, so the migration also applies to a database whose schema was made earlier by
    /// <c>EnsureSchemaOnStart</c>, <see cref="OutboxSchema.EnsureCreatedAsync(Npgsql.NpgsqlDataSource, OutboxOptions, CancellationToken)"/>
    /// or the script pasted into an older migration. Called in a later migration, it adds what is missing.
    /// </summary>
    /// <param name="migrationBuilder">The migration builder of <c>Up</c>.</param>
    /// <param name="commitOrder">
    /// <see cref="OutboxCommitOrder.Trigger"/> (the default) for the polling relay, or any relay;
    /// <see cref="OutboxCommitOrder.WriteAheadLog"/> when only the CDC relay or Debezium runs (no commit-order trigger).
    /// As at run time, an existing trigger is never dropped here (see <see cref="SwitchOutboxCommitOrder"/>); with
    /// <see cref="OutboxCommitOrder.Trigger"/> on a schema without it, the trigger is created and the rows written without
    /// it are numbered first, in commit order.
    /// </param>
    /// <param name="options">The outbox options the application uses (schema, table names, lane count); the defaults when <see langword="null"/>.</param>
    /// <param name="unknownCommitOrder">
    /// What to do with rows written without the trigger whose commit order PostgreSQL did not record (the same choice as
    /// <see cref="PostgreSqlOutboxOptions.UnknownCommitOrder"/>). The default refuses: the migration fails with a message
    /// that names the keys.
    /// </param>
    /// <returns>The migration builder, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException">A schema or table name is not a plain identifier, or the migration
    /// creates an outbox table under other names than <paramref name="options"/> gives.</exception>
    /// <exception cref="InvalidOperationException">The migration is for another database provider than PostgreSQL.</exception>
    public static MigrationBuilder CreateOutboxSchema(
        this MigrationBuilder migrationBuilder,
        OutboxCommitOrder commitOrder = OutboxCommitOrder.Trigger,
        OutboxOptions? options = null,
        OutboxUnknownCommitOrder unknownCommitOrder = OutboxUnknownCommitOrder.Refuse)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        options ??= new OutboxOptions();
        CheckProvider(migrationBuilder);
        var script = OutboxSchema.MigrationCreateScript(options, commitOrder, unknownCommitOrder);
        var position = RemoveModelTable(migrationBuilder.Operations, options);
        migrationBuilder.Operations.Insert(position ?? migrationBuilder.Operations.Count, new SqlOperation { Sql = script });
        return migrationBuilder;
    }

    /// <summary>
    /// Switches an existing outbox schema to the commit order of another relay, in a later migration: to
    /// <see cref="OutboxCommitOrder.Trigger"/> (to the polling relay) it creates the commit-order trigger and numbers the
    /// rows written without it ahead of every later row, in commit order; to <see cref="OutboxCommitOrder.WriteAheadLog"/>
    /// (to the CDC relay or Debezium) it drops the trigger, and <b>refuses while a polling relay still runs</b> on the table
    /// (a live instance in the lanes' instances table): deploy the CDC relay first, then apply it. In <c>Down</c>, switch back.
    /// Missing objects are created first, so it also applies to an older schema.
    /// </summary>
    /// <param name="migrationBuilder">The migration builder.</param>
    /// <param name="commitOrder">The commit order of the relay you switch to.</param>
    /// <param name="options">The outbox options the application uses; the defaults when <see langword="null"/>.</param>
    /// <param name="unknownCommitOrder">For a switch to <see cref="OutboxCommitOrder.Trigger"/>: what to do with rows of unknown
    /// commit order (see <see cref="CreateOutboxSchema"/>).</param>
    /// <returns>The migration builder, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException">A schema or table name is not a plain identifier.</exception>
    /// <exception cref="InvalidOperationException">The migration is for another database provider than PostgreSQL.</exception>
    public static MigrationBuilder SwitchOutboxCommitOrder(
        this MigrationBuilder migrationBuilder,
        OutboxCommitOrder commitOrder,
        OutboxOptions? options = null,
        OutboxUnknownCommitOrder unknownCommitOrder = OutboxUnknownCommitOrder.Refuse)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        options ??= new OutboxOptions();
        CheckProvider(migrationBuilder);
        var create = OutboxSchema.MigrationCreateScript(options, commitOrder, unknownCommitOrder);
        migrationBuilder.Operations.Add(new SqlOperation
        {
            Sql = commitOrder == OutboxCommitOrder.WriteAheadLog ? create + "\n" + OutboxSchema.DropCommitTriggerScript(options) : create,
        });
        return migrationBuilder;
    }

    /// <summary>
    /// Drops what <see cref="CreateOutboxSchema"/> added beyond the EF Core model: the commit-order trigger, its function
    /// and sequence, the lanes, instances, dead letters, parked keys, inbox, inbox offsets, inbox parked records and the
    /// CDC relay's two tables. Call it in <c>Down</c> of the migration whose <c>Up</c> has <see cref="CreateOutboxSchema"/>;
    /// the generated <c>DropTable</c> drops the outbox table. A CDC relay's replication slot and publication are not
    /// database objects of the schema: drop them as docs/relay-cdc.md says.
    /// </summary>
    /// <param name="migrationBuilder">The migration builder of <c>Down</c>.</param>
    /// <param name="options">The outbox options the application uses; the defaults when <see langword="null"/>.</param>
    /// <returns>The migration builder, for chaining.</returns>
    /// <exception cref="OutboxConfigurationException">A schema or table name is not a plain identifier.</exception>
    /// <exception cref="InvalidOperationException">The migration is for another database provider than PostgreSQL.</exception>
    public static MigrationBuilder DropOutboxSchema(this MigrationBuilder migrationBuilder, OutboxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        options ??= new OutboxOptions();
        CheckProvider(migrationBuilder);
        migrationBuilder.Operations.Add(new SqlOperation { Sql = OutboxSchema.DropScript(options) });
        return migrationBuilder;
    }

    private static void CheckProvider(MigrationBuilder migrationBuilder)
    {
        if (migrationBuilder.ActiveProvider is { } provider && provider != NpgsqlProvider)
        {
            throw new InvalidOperationException(
                $"The outbox schema is PostgreSQL's; this migration is for the provider '{provider}'. Use it with {NpgsqlProvider}.");
        }
    }

    /// <summary>
    /// Removes the model's <c>CreateTable</c> of the outbox table and its lane index from the operations so far (the
    /// script creates the same, idempotently), and returns where the table was created: the script goes there.
    /// </summary>
    private static int? RemoveModelTable(List<MigrationOperation> operations, OutboxOptions options)
    {
        var names = new OutboxTableNames(options);
        var laneIndex = names.LaneIndexName;
        int? position = null;

        // Backwards: the index follows its table, so removing it does not move the table's position.
        for (var i = operations.Count - 1; i >= 0; i--)
        {
            switch (operations[i])
            {
                case CreateTableOperation table when table.Name == options.MessagesTable && table.Schema == options.Schema:
                    operations.RemoveAt(i);
                    position = i;
                    break;
                case CreateIndexOperation index when index.Name == laneIndex && index.Table == options.MessagesTable && index.Schema == options.Schema:
                    operations.RemoveAt(i);
                    break;
                case CreateTableOperation other when IsOutboxTable(other):
                    throw new OutboxConfigurationException(
                        $"This migration creates an outbox table \"{other.Schema}\".\"{other.Name}\", and CreateOutboxSchema was given " +
                        $"\"{options.Schema}\".\"{options.MessagesTable}\": pass CreateOutboxSchema the same OutboxOptions (Schema, MessagesTable and the other " +
                        "table names) that UseOutbox or ApplyOutbox puts in the model.");
            }
        }

        return position;
    }

    private static bool IsOutboxTable(CreateTableOperation table)
    {
        string[] outboxColumns = [OutboxColumns.AggregateType, OutboxColumns.AggregateId, OutboxColumns.Lane, OutboxColumns.CommitSequence, OutboxColumns.Payload];
        return outboxColumns.All(c => table.Columns.Any(column => column.Name == c));
    }
}
