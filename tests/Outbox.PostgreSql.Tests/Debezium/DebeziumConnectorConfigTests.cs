using System.Text.Json;

namespace Outbox.PostgreSql.Tests.Debezium;

public sealed class DebeziumConnectorConfigTests
{
    [Fact]
    public void Custom_schema_table_slot_and_publication_names_are_used()
    {
        var outbox = new OutboxOptions { Schema = "sales", MessagesTable = "out_events", TopicTemplate = "sales.{aggregatetype}.v1" };
        var properties = DebeziumConnectorConfig.CreateProperties(outbox, Options(o =>
        {
            o.SlotName = "sales_debezium";
            o.PublicationName = "sales_pub";
        }));

        Assert.Equal(@"sales\.out_events", properties["table.include.list"]);
        Assert.Equal("sales_debezium", properties["slot.name"]);
        Assert.Equal("sales_pub", properties["publication.name"]);
        Assert.Equal("sales.${routedByValue}.v1", properties["transforms.outbox.route.topic.replacement"]);
    }

    [Fact]
    public void Database_settings_come_from_the_connection_string_unless_overridden()
    {
        var properties = DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), Options());
        Assert.Equal("db.example", properties["database.hostname"]);
        Assert.Equal("6543", properties["database.port"]);
        Assert.Equal("writer", properties["database.user"]);
        Assert.Equal("pw", properties["database.password"]);
        Assert.Equal("orders", properties["database.dbname"]);

        var overridden = DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), Options(o =>
        {
            o.DatabaseHostname = "postgres";
            o.DatabasePort = 5432;
            o.DatabasePassword = "${file:/secrets/db.properties:password}";
        }));
        Assert.Equal("postgres", overridden["database.hostname"]);
        Assert.Equal("5432", overridden["database.port"]);
        Assert.Equal("${file:/secrets/db.properties:password}", overridden["database.password"]);
    }

    [Fact]
    public void Without_a_password_the_setting_is_left_out()
    {
        var properties = DebeziumConnectorConfig.CreateProperties(
            new OutboxOptions(), new DebeziumOptions { ConnectionString = "Host=h;Username=u;Database=d" });
        Assert.False(properties.ContainsKey("database.password"));
    }

    [Fact]
    public void Additional_properties_are_added_last_and_win()
    {
        var properties = DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), Options(o =>
        {
            o.AdditionalProperties["heartbeat.interval.ms"] = "10000";
            o.AdditionalProperties["snapshot.mode"] = "never";
        }));
        Assert.Equal("10000", properties["heartbeat.interval.ms"]);
        Assert.Equal("never", properties["snapshot.mode"]);
        Assert.Equal("heartbeat.interval.ms", properties.Keys.Last());
    }

    [Fact]
    public void Invalid_names_fail_naming_the_option()
    {
        var slot = Assert.Throws<OutboxConfigurationException>(() => DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), Options(o => o.SlotName = "Bad Slot")));
        Assert.Contains("DebeziumOptions.SlotName", slot.Message, StringComparison.Ordinal);
        var publication = Assert.Throws<OutboxConfigurationException>(() => DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), Options(o => o.PublicationName = "x;y")));
        Assert.Contains("DebeziumOptions.PublicationName", publication.Message, StringComparison.Ordinal);
        var connection = Assert.Throws<OutboxConfigurationException>(() => DebeziumConnectorConfig.CreateProperties(new OutboxOptions(), new DebeziumOptions()));
        Assert.Contains("DebeziumOptions.ConnectionString", connection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_json_keeps_the_router_expressions_readable()
    {
        var json = DebeziumConnectorConfig.Create(new OutboxOptions(), Options());
        Assert.Contains("\"(?<routedByValue>.*)\"", json, StringComparison.Ordinal);
        Assert.Contains("\"outbox.event.${routedByValue}\"", json, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json);
        Assert.Equal("outbox", document.RootElement.GetProperty("name").GetString());
    }

    private static DebeziumOptions Options(Action<DebeziumOptions>? configure = null)
    {
        var options = new DebeziumOptions { ConnectionString = "Host=db.example;Port=6543;Username=writer;Password=pw;Database=orders" };
        configure?.Invoke(options);
        return options;
    }
}
