using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Outbox.Kafka.Publishing;
using Outbox.PostgreSql;

namespace Outbox.IntegrationTests.Conformance;

/// <summary>
/// The generated Debezium configuration, property by property, against the record contract the relays follow: each
/// row names a Kafka Connect/Debezium property, the value it must hold, and why (the column or the record part it
/// maps, or Debezium's documented default where we rely on it). Debezium itself cannot run on the build machines
/// (no Docker, no JVM registry): this table, and the cross-checks with the relays' own record factory below, are what
/// stands in for it. See docs/debezium.md.
/// </summary>
public sealed class DebeziumConnectorConfigConformanceTests
{
    /// <summary>Property, required value, and what it maps (Debezium's documented default in brackets when it matches).</summary>
    public static TheoryData<string, string, string> Mapping => new()
    {
        { "connector.class", "io.debezium.connector.postgresql.PostgresConnector", "Debezium's PostgreSQL connector" },
        { "plugin.name", "pgoutput", "the built-in decoding plugin, as the CDC relay uses" },
        { "publication.name", "outbox", "DebeziumOptions.PublicationName: FOR TABLE outbox.messages WITH (publish = 'insert')" },
        { "publication.autocreate.mode", "disabled", "Debezium would create a publication of all changes; the commit trigger's updates are not events" },
        { "slot.name", "outbox_debezium", "DebeziumOptions.SlotName, distinct from the CDC relay's slot" },
        { "table.include.list", @"outbox\.messages", "OutboxOptions.Schema + MessagesTable, as a regular expression" },
        { "snapshot.mode", "no_data", "rows already in the table are not replayed as events" },
        { "tombstones.on.delete", "false", "deleting published rows is housekeeping, not an event" },
        { "extended.headers.enabled", "false", "no __debezium.context.* headers: the headers are the contract" },
        { "key.converter", "org.apache.kafka.connect.storage.StringConverter", "key = aggregateid as UTF-8, like the relays" },
        { "value.converter", "org.apache.kafka.connect.storage.StringConverter", "value = the payload text as is (JsonConverter would escape it)" },
        { "header.converter", "org.apache.kafka.connect.storage.SimpleHeaderConverter", "string headers as UTF-8 [Kafka Connect's default]" },
        { "transforms", "outbox", "one transform" },
        { "transforms.outbox.type", "io.debezium.transforms.outbox.EventRouter", "the stock Outbox Event Router, no custom SMT" },
        { "transforms.outbox.table.field.event.id", "id", "column id -> header 'id' [default: id]" },
        { "transforms.outbox.table.field.event.key", "aggregateid", "column aggregateid -> record key [default: aggregateid]" },
        { "transforms.outbox.table.field.event.payload", "payload", "column payload -> record value [default: payload]" },
        { "transforms.outbox.table.expand.json.payload", "false", "the value is the jsonb text, not re-serialized [default: false]" },
        { "transforms.outbox.table.fields.additional.placement", "type:header:type,traceparent:header:traceparent,tracestate:header:tracestate", "columns type, traceparent, tracestate -> headers of the same names, after 'id'" },
        { "transforms.outbox.table.op.invalid.behavior", "warn", "updates are skipped [default: warn]" },
        { "transforms.outbox.route.by.field", "aggregatetype", "column aggregatetype selects the topic [default: aggregatetype]" },
        { "transforms.outbox.route.topic.regex", "(?<routedByValue>.*)", "the whole aggregate type [default]" },
        { "transforms.outbox.route.topic.replacement", "outbox.event.${routedByValue}", "OutboxOptions.TopicTemplate with {aggregatetype} -> ${routedByValue} [default for the default template]" },
        { "transforms.outbox.route.tombstone.on.empty.payload", "false", "payload is never empty (NOT NULL) [default: false]" },
    };

    [Theory]
    [MemberData(nameof(Mapping))]
    public void Each_property_holds_the_value_the_record_contract_needs(string property, string value, string reason)
    {
        var properties = DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), DefaultOptions());
        Assert.True(properties.TryGetValue(property, out var actual), $"'{property}' is missing ({reason}).");
        Assert.True(value == actual, $"'{property}' is '{actual}', but must be '{value}': {reason}.");
    }

    [Fact]
    public void Every_generated_property_is_named_in_the_mapping_or_is_a_connection_setting()
    {
        var named = Mapping.Select(row => (string)row[0]).ToHashSet();
        string[] connection = ["tasks.max", "database.hostname", "database.port", "database.user", "database.password", "database.dbname", "topic.prefix"];
        var properties = DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), DefaultOptions());
        Assert.DoesNotContain(properties.Keys, k => !named.Contains(k) && !connection.Contains(k));
        Assert.Equal("db.internal", properties["database.hostname"]);
        Assert.Equal("5433", properties["database.port"]);
        Assert.Equal("app", properties["database.user"]);
        Assert.Equal("secret", properties["database.password"]);
        Assert.Equal("shop", properties["database.dbname"]);
    }

    [Theory]
    [InlineData("outbox.event.{aggregatetype}", "order", "outbox.event.order")]
    [InlineData("{aggregatetype}", "payment.v2", "payment.v2")]
    [InlineData("prod.{aggregatetype}.events", "ship-ment_x", "prod.ship-ment_x.events")]
    [InlineData("all-events", "order", "all-events")]
    public void The_router_sends_each_aggregate_type_to_the_topic_the_relays_use(string template, string aggregateType, string topic)
    {
        var outbox = new OutboxOptions { TopicTemplate = template };
        var properties = DebeziumConnectorConfig.CreateProperties(outbox, DefaultOptions());

        // RegexRouter: Pattern.matcher(aggregatetype).replaceFirst(replacement) once route.topic.regex matched.
        var regex = new Regex("^" + properties["transforms.outbox.route.topic.regex"] + "$");
        var match = regex.Match(aggregateType);
        Assert.True(match.Success);
        var routed = properties["transforms.outbox.route.topic.replacement"].Replace("${routedByValue}", match.Groups["routedByValue"].Value, StringComparison.Ordinal);
        Assert.Equal(topic, routed);
        Assert.Equal(outbox.GetTopic(aggregateType), routed);
    }

    [Fact]
    public void The_headers_the_router_places_are_those_the_relays_write_in_the_same_order()
    {
        var message = new Outbox.Providers.OutboxRecord
        {
            Id = Guid.CreateVersion7(),
            AggregateType = "order",
            AggregateId = "κλειδί-42",
            Type = "OrderPlaced",
            Payload = "{\"a\": 1}",
            TraceParent = ConformanceRows.TraceParent,
            TraceState = ConformanceRows.TraceState,
        };
        var record = KafkaRecordFactory.CreateMessage(message);
        var properties = DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), DefaultOptions());

        // The EventRouter adds 'id' (from table.field.event.id), then each additional header field in order.
        var placed = properties["transforms.outbox.table.fields.additional.placement"].Split(',').Select(p => p.Split(':')).ToList();
        Assert.All(placed, p => Assert.Equal("header", p[1]));
        var routerHeaders = new[] { "id" }.Concat(placed.Select(p => p[2])).ToList();
        Assert.Equal(routerHeaders, record.Headers.Select(h => h.Key));

        // Each header holds its column's value as UTF-8 text, the id in the canonical form PostgreSQL prints a uuid in.
        var columns = new Dictionary<string, string?>
        {
            [properties["transforms.outbox.table.field.event.id"]] = message.Id.ToString("D"),
            ["type"] = message.Type,
            ["traceparent"] = message.TraceParent,
            ["tracestate"] = message.TraceState,
        };
        var columnOf = new Dictionary<string, string> { ["id"] = properties["transforms.outbox.table.field.event.id"] };
        foreach (var p in placed)
        {
            columnOf[p[2]] = p[0];
        }

        foreach (var header in record.Headers)
        {
            Assert.Equal(columns[columnOf[header.Key]], Encoding.UTF8.GetString(header.GetValueBytes()));
        }

        // Key and value: the columns the router reads, as UTF-8 strings.
        Assert.Equal("aggregateid", properties["transforms.outbox.table.field.event.key"]);
        Assert.Equal(Encoding.UTF8.GetBytes(message.AggregateId), record.Key);
        Assert.Equal("payload", properties["transforms.outbox.table.field.event.payload"]);
        Assert.Equal(Encoding.UTF8.GetBytes(message.Payload), record.Value);
    }

    [Fact]
    public void The_json_is_a_kafka_connect_registration_with_the_same_properties()
    {
        var options = DefaultOptions();
        using var json = JsonDocument.Parse(DebeziumConnectorConfig.Create(new OutboxOptions(), options));
        Assert.Equal(options.ConnectorName, json.RootElement.GetProperty("name").GetString());
        var config = json.RootElement.GetProperty("config").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal(DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), options), config!);
    }

    private static DebeziumOptions DefaultOptions() => new()
    {
        ConnectionString = "Host=localhost;Port=5433;Username=app;Password=secret;Database=shop",
        DatabaseHostname = "db.internal",
    };
}
