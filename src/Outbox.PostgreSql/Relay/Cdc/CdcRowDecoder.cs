using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using Outbox.Providers;

namespace Outbox.PostgreSql.Cdc;

/// <summary>
/// Turns pgoutput insert messages of the outbox table into <see cref="OutboxRecord"/>s. Columns are matched by name
/// from the relation message (so column order and extra columns do not matter), and every value is copied out: Npgsql
/// reuses its message objects. In a fleet of many databases, every record carries the database's name.
/// </summary>
internal sealed class CdcRowDecoder(string schema, string table, string? database = null)
{
    private readonly Dictionary<uint, Field[]?> _relations = [];

    internal enum Field
    {
        Skip,
        Id,
        AggregateType,
        AggregateId,
        Type,
        Payload,
        Lane,
        CreatedAt,
        TraceParent,
        TraceState,
    }

    /// <summary>Remembers a relation's columns; relations other than the outbox table are ignored later.</summary>
    /// <exception cref="OutboxException">The outbox table lacks a column the relay needs.</exception>
    public void OnRelation(RelationMessage relation)
    {
        if (!string.Equals(relation.Namespace, schema, StringComparison.Ordinal) || !string.Equals(relation.RelationName, table, StringComparison.Ordinal))
        {
            _relations[relation.RelationId] = null;
            return;
        }

        var names = new string[relation.Columns.Count];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = relation.Columns[i].ColumnName;
        }

        _relations[relation.RelationId] = MapColumns(names, schema + "." + table);
    }

    /// <summary>Maps column names to fields; throws when a required column is missing.</summary>
    internal static Field[] MapColumns(IReadOnlyList<string> columns, string tableForErrors)
    {
        var map = new Field[columns.Count];
        var seen = new HashSet<Field>();
        for (var i = 0; i < columns.Count; i++)
        {
            map[i] = columns[i] switch
            {
                OutboxColumns.Id => Field.Id,
                OutboxColumns.AggregateType => Field.AggregateType,
                OutboxColumns.AggregateId => Field.AggregateId,
                OutboxColumns.Type => Field.Type,
                OutboxColumns.Payload => Field.Payload,
                OutboxColumns.Lane => Field.Lane,
                OutboxColumns.CreatedAt => Field.CreatedAt,
                OutboxColumns.TraceParent => Field.TraceParent,
                OutboxColumns.TraceState => Field.TraceState,
                _ => Field.Skip,
            };
            seen.Add(map[i]);
        }

        Field[] required = [Field.Id, Field.AggregateType, Field.AggregateId, Field.Type, Field.Payload];
        var missing = required.Where(f => !seen.Contains(f)).ToList();
        if (missing.Count > 0)
        {
            throw new OutboxException(
                $"The replication stream of {tableForErrors} lacks the column(s) {string.Join(", ", missing)}: the table is not an outbox table.");
        }

        return map;
    }

    /// <summary>Decodes an insert; <see langword="null"/> when it is not a row of the outbox table.</summary>
    public async ValueTask<OutboxRecord?> DecodeAsync(InsertMessage insert, CancellationToken cancellationToken)
    {
        if (!_relations.TryGetValue(insert.Relation.RelationId, out var map))
        {
            // pgoutput always sends the relation before its first row; be safe if a future version does not.
            OnRelation(insert.Relation);
            map = _relations[insert.Relation.RelationId];
        }

        if (map is null)
        {
            return null;
        }

        Guid id = default;
        string aggregateType = "", aggregateId = "", type = "", payload = "";
        var lane = 0;
        DateTimeOffset createdAt = default;
        string? traceParent = null, traceState = null;
        var i = 0;
        await foreach (var value in insert.NewRow.ConfigureAwait(false).WithCancellation(cancellationToken))
        {
            var field = i < map.Length ? map[i] : Field.Skip;
            i++;
            if (field == Field.Skip || value.IsDBNull)
            {
                continue;
            }

            switch (field)
            {
                case Field.Id:
                    id = await value.Get<Guid>(cancellationToken).ConfigureAwait(false);
                    break;
                case Field.AggregateType:
                    aggregateType = await value.Get<string>(cancellationToken).ConfigureAwait(false);
                    break;
                case Field.AggregateId:
                    aggregateId = await value.Get<string>(cancellationToken).ConfigureAwait(false);
                    break;
                case Field.Type:
                    type = await value.Get<string>(cancellationToken).ConfigureAwait(false);
                    break;
                case Field.Payload:
                    payload = await value.Get<string>(cancellationToken).ConfigureAwait(false);
                    break;
                case Field.Lane:
                    lane = await value.Get<int>(cancellationToken).ConfigureAwait(false);
                    break;
                case Field.CreatedAt:
                    createdAt = await value.Get<DateTimeOffset>(cancellationToken).ConfigureAwait(false);
                    break;
                case Field.TraceParent:
                    traceParent = await value.Get<string>(cancellationToken).ConfigureAwait(false);
                    break;
                case Field.TraceState:
                    traceState = await value.Get<string>(cancellationToken).ConfigureAwait(false);
                    break;
            }
        }

        return new OutboxRecord
        {
            Id = id,
            AggregateType = aggregateType,
            AggregateId = aggregateId,
            Type = type,
            Payload = payload,
            Lane = lane,
            CreatedAt = createdAt,
            TraceParent = traceParent,
            TraceState = traceState,
            Database = database,
        };
    }
}
