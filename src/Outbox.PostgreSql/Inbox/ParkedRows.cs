using System.Data.Common;
using Npgsql;
using NpgsqlTypes;
using Outbox.Providers;

namespace Outbox.PostgreSql.Inbox;

/// <summary>Writes and reads rows of the inbox's parked table (<see cref="InboxSql.ParkedColumns"/>).</summary>
internal static class ParkedRows
{
    /// <summary>Adds $2..$17 of <see cref="InboxSql.InsertParked"/> (the caller adds $1, the group).</summary>
    public static void AddColumns(NpgsqlParameterCollection parameters, ParkedRecord parked)
    {
        var record = parked.Record;
        parameters.Add(new NpgsqlParameter<string> { TypedValue = record.Topic });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = record.Partition });
        parameters.Add(new NpgsqlParameter<long> { TypedValue = record.Offset });
        parameters.Add(Bytes(record.Key));
        parameters.Add(Text(record.Id));
        parameters.Add(Text(record.Type));
        parameters.Add(Bytes(record.Value));
        parameters.Add(new NpgsqlParameter<string[]>
        {
            TypedValue = record.Headers.Select(h => Clean(h.Key)!).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text,
        });
        parameters.Add(new NpgsqlParameter { Value = record.Headers.Select(h => h.Value).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = record.Timestamp });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = parked.State });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = parked.Reason });
        parameters.Add(Text(parked.ErrorType));
        parameters.Add(Text(parked.Error));
        parameters.Add(new NpgsqlParameter<int> { TypedValue = parked.Attempts });
        parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = parked.ParkedAt });
    }

    /// <summary>Reads the <see cref="InboxSql.ParkedColumns"/> starting at <paramref name="first"/>.</summary>
    public static ParkedRecord Read(DbDataReader reader, int first = 0)
    {
        var names = reader.GetFieldValue<string[]>(first + 7);
        var values = reader.GetFieldValue<byte[]?[]>(first + 8);
        var headers = new List<KeyValuePair<string, byte[]?>>(names.Length);
        for (var i = 0; i < names.Length; i++)
        {
            headers.Add(new KeyValuePair<string, byte[]?>(names[i], values[i]));
        }

        var record = new InboxRecord
        {
            Topic = reader.GetString(first),
            Partition = reader.GetInt32(first + 1),
            Offset = reader.GetInt64(first + 2),
            Key = reader.IsDBNull(first + 3) ? null : reader.GetFieldValue<byte[]>(first + 3),
            Id = LastHeader(headers, "id"),
            Type = LastHeader(headers, "type"),
            Value = reader.IsDBNull(first + 6) ? null : reader.GetFieldValue<byte[]>(first + 6),
            Headers = headers,
            Timestamp = reader.GetFieldValue<DateTimeOffset>(first + 9),
        };
        return new ParkedRecord
        {
            Record = record,
            State = reader.GetString(first + 10),
            Reason = reader.GetString(first + 11),
            ErrorType = reader.IsDBNull(first + 12) ? null : reader.GetString(first + 12),
            Error = reader.IsDBNull(first + 13) ? null : reader.GetString(first + 13),
            Attempts = reader.GetInt32(first + 14),
            ParkedAt = reader.GetFieldValue<DateTimeOffset>(first + 15),
        };
    }

    public static NpgsqlParameter Bytes(byte[]? value) =>
        new() { Value = value is null ? DBNull.Value : value, NpgsqlDbType = NpgsqlDbType.Bytea };

    public static NpgsqlParameter Text(string? value) =>
        new() { Value = Clean(value) is { } clean ? clean : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };

    /// <summary>PostgreSQL text cannot hold NUL: the record's bytes stay intact in the headers column, the text columns show U+FFFD.</summary>
    private static string? Clean(string? value) => value?.Replace('\0', '\uFFFD');

    // The id and type as the transport reads them: the last header of that name, decoded as UTF-8.
    private static string? LastHeader(List<KeyValuePair<string, byte[]?>> headers, string name)
    {
        string? found = null;
        foreach (var header in headers)
        {
            if (header.Key == name && header.Value is { } value)
            {
                found = System.Text.Encoding.UTF8.GetString(value);
            }
        }

        return found;
    }
}
