using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Outbox.EntityFrameworkCore;

/// <summary>
/// Asks the database which of the outbox rows a context wrote still exist, on the context's connection and in its
/// current transaction. Only used once the context can no longer trust its own bookkeeping (a rollback to a savepoint,
/// a transaction that ended without EF Core seeing it), never on the ordinary write path.
/// </summary>
internal static class WrittenRowCheck
{
    public static HashSet<Guid> Existing(DbContext context, Guid[] ids)
    {
        var database = context.Database;
        database.OpenConnection();
        try
        {
            using var command = CreateCommand(context, ids);
            using var reader = command.ExecuteReader();
            var existing = new HashSet<Guid>();
            while (reader.Read())
            {
                existing.Add(reader.GetGuid(0));
            }

            return existing;
        }
        finally
        {
            database.CloseConnection();
        }
    }

    public static async Task<HashSet<Guid>> ExistingAsync(DbContext context, Guid[] ids, CancellationToken cancellationToken)
    {
        var database = context.Database;
        await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var command = CreateCommand(context, ids);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    var existing = new HashSet<Guid>();
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        existing.Add(reader.GetGuid(0));
                    }

                    return existing;
                }
            }
        }
        finally
        {
            await database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    private static DbCommand CreateCommand(DbContext context, Guid[] ids)
    {
        var entityType = context.Model.FindEntityType(typeof(OutboxMessage))
            ?? throw new OutboxException($"{context.GetType().Name} has no OutboxMessage entity in its model.");
        var table = entityType.GetTableName()!;
        var schema = entityType.GetSchema();
        var qualified = schema is null ? SqlIdentifier.Quote(table) : SqlIdentifier.Qualified(schema, table);

        var command = context.Database.GetDbConnection().CreateCommand();
        command.Transaction = context.Database.CurrentTransaction?.GetDbTransaction();
#pragma warning disable CA2100 // Identifiers come from the model and are quoted; the ids are a parameter.
        command.CommandText = $"SELECT {SqlIdentifier.Quote(OutboxColumns.Id)} FROM {qualified} WHERE {SqlIdentifier.Quote(OutboxColumns.Id)} = ANY($1)";
#pragma warning restore CA2100
        var parameter = command.CreateParameter();
        parameter.Value = ids;
        command.Parameters.Add(parameter);
        return command;
    }
}
