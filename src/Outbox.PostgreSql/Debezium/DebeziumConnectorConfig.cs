using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Npgsql;
using Outbox.PostgreSql.Cdc;
using Outbox.PostgreSql.Replication;

namespace Outbox.PostgreSql;

/// <summary>
/// Generates the Kafka Connect configuration of Debezium's PostgreSQL connector with the stock
/// <c>io.debezium.transforms.outbox.EventRouter</c>, so that Debezium writes the same Kafka records as this library's
/// relays: topic from <see cref="OutboxOptions.TopicTemplate"/>, key <c>aggregateid</c>, value the <c>payload</c> JSON
/// unchanged, headers <c>id</c>, <c>type</c>, <c>traceparent</c> and <c>tracestate</c>. See docs/debezium.md.
/// </summary>
public static class DebeziumConnectorConfig
{
    /// <summary>The variable Debezium's topic router replaces with the value of <c>route.by.field</c>.</summary>
    private const string RoutedByValue = "${routedByValue}";

    private static readonly JsonWriterOptions s_writerOptions = new()
    {
        Indented = true,

        // Keeps "(?<routedByValue>.*)" and "${routedByValue}" readable; the JSON is never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Creates the body of a Kafka Connect <c>POST /connectors</c> request: <c>{"name": ..., "config": {...}}</c>.</summary>
    /// <param name="outboxOptions">The outbox options: table, columns and topic template.</param>
    /// <param name="debeziumOptions">The Debezium options: connector, database, slot and publication.</param>
    /// <returns>The indented JSON.</returns>
    /// <exception cref="OutboxConfigurationException">A name is not valid (the message names the setting).</exception>
    public static string Create(OutboxOptions outboxOptions, DebeziumOptions debeziumOptions)
    {
        var properties = CreateProperties(outboxOptions, debeziumOptions);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, s_writerOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("name", debeziumOptions.ConnectorName);
            writer.WriteStartObject("config");
            foreach (var (key, value) in properties)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Creates the connector's settings, in a readable order.</summary>
    /// <param name="outboxOptions">The outbox options: table, columns and topic template.</param>
    /// <param name="debeziumOptions">The Debezium options: connector, database, slot and publication.</param>
    /// <returns>The settings, keyed by Kafka Connect property name.</returns>
    /// <exception cref="OutboxConfigurationException">A name is not valid (the message names the setting).</exception>
    public static IReadOnlyDictionary<string, string> CreateProperties(OutboxOptions outboxOptions, DebeziumOptions debeziumOptions)
    {
        ArgumentNullException.ThrowIfNull(outboxOptions);
        ArgumentNullException.ThrowIfNull(debeziumOptions);
        var names = new CdcNames(outboxOptions, debeziumOptions.SlotName, debeziumOptions.PublicationName, "DebeziumOptions.SlotName", "DebeziumOptions.PublicationName");
        if (string.IsNullOrWhiteSpace(debeziumOptions.ConnectionString))
        {
            throw new OutboxConfigurationException("DebeziumOptions.ConnectionString is required: the connector's database settings come from it.");
        }

        NpgsqlConnectionStringBuilder database;
        try
        {
            database = new NpgsqlConnectionStringBuilder(debeziumOptions.ConnectionString);
        }
        catch (ArgumentException)
        {
            throw new OutboxConfigurationException(ConnectionStringCheck.Problem(debeziumOptions.ConnectionString, "DebeziumOptions.ConnectionString")!);
        }

        var password = debeziumOptions.DatabasePassword ?? database.Password;
        var p = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["connector.class"] = "io.debezium.connector.postgresql.PostgresConnector",
            ["tasks.max"] = "1",
            ["plugin.name"] = "pgoutput",
            ["database.hostname"] = debeziumOptions.DatabaseHostname ?? database.Host ?? "localhost",
            ["database.port"] = (debeziumOptions.DatabasePort ?? database.Port).ToString(CultureInfo.InvariantCulture),
            ["database.user"] = database.Username ?? string.Empty,
        };
        if (!string.IsNullOrEmpty(password))
        {
            p["database.password"] = password;
        }

        p["database.dbname"] = database.Database ?? string.Empty;
        p["topic.prefix"] = debeziumOptions.TopicPrefix;

        // The relay-side objects: our publication publishes the outbox table's inserts only (its commit trigger
        // updates every row, and those updates are not events); Debezium creates its slot itself.
        p["slot.name"] = names.SlotName;
        p["publication.name"] = names.PublicationName;
        p["publication.autocreate.mode"] = "disabled";
        p["table.include.list"] = EscapeRegex(names.Tables.Schema) + "\\." + EscapeRegex(names.Tables.MessagesTableName);

        // Rows already in the table are not events to replay; deletes of published rows are not events either.
        p["snapshot.mode"] = "no_data";
        p["tombstones.on.delete"] = "false";

        // Debezium 3 adds __debezium.context.* headers to every record; the record contract has no such headers.
        p["extended.headers.enabled"] = "false";

        // The key and value are written as the strings they are: the aggregate id, and the payload's JSON text exactly
        // as PostgreSQL renders the jsonb column (what the relays send), neither wrapped nor escaped.
        p["key.converter"] = "org.apache.kafka.connect.storage.StringConverter";
        p["value.converter"] = "org.apache.kafka.connect.storage.StringConverter";
        p["header.converter"] = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

        p["transforms"] = "outbox";
        p["transforms.outbox.type"] = "io.debezium.transforms.outbox.EventRouter";
        p["transforms.outbox.table.field.event.id"] = OutboxColumns.Id;
        p["transforms.outbox.table.field.event.key"] = OutboxColumns.AggregateId;
        p["transforms.outbox.table.field.event.payload"] = OutboxColumns.Payload;
        p["transforms.outbox.table.expand.json.payload"] = "false";
        p["transforms.outbox.table.fields.additional.placement"] = string.Join(
            ",",
            $"{OutboxColumns.Type}:header:type",
            $"{OutboxColumns.TraceParent}:header:traceparent",
            $"{OutboxColumns.TraceState}:header:tracestate");
        p["transforms.outbox.table.op.invalid.behavior"] = "warn";
        p["transforms.outbox.route.by.field"] = OutboxColumns.AggregateType;
        p["transforms.outbox.route.topic.regex"] = "(?<routedByValue>.*)";
        p["transforms.outbox.route.topic.replacement"] = TopicReplacement(outboxOptions.TopicTemplate);
        p["transforms.outbox.route.tombstone.on.empty.payload"] = "false";

        foreach (var (key, value) in debeziumOptions.AdditionalProperties)
        {
            p[key] = value;
        }

        return p;
    }

    /// <summary>Turns <see cref="OutboxOptions.TopicTemplate"/> into the router's replacement: <c>{aggregatetype}</c> becomes
    /// <c>${routedByValue}</c>. Topic names hold no <c>$</c> or <c>\</c>, so nothing else needs escaping.</summary>
    internal static string TopicReplacement(string topicTemplate) =>
        topicTemplate.Replace(OutboxOptions.AggregateTypePlaceholder, RoutedByValue, StringComparison.Ordinal);

    // Identifiers are letters, digits and '_' (validated), so this only matters for future-proofing.
    private static string EscapeRegex(string identifier) => System.Text.RegularExpressions.Regex.Escape(identifier);
}
