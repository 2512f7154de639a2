using Outbox.PostgreSql.Replication;

namespace Outbox.PostgreSql.Tests.Replication;

public sealed class CdcNamesTests
{
    [Fact]
    public void The_relay_tables_sit_next_to_the_outbox_table_and_are_quoted()
    {
        var names = new CdcNames(new OutboxOptions { Schema = "sales", MessagesTable = "events" }, "slot", "pub");
        Assert.Equal("\"sales\".\"events\"", names.Tables.Messages);
        Assert.Equal("\"sales\".\"events_cdc_backlog\"", names.Tables.CdcBacklog);
        Assert.Equal("\"sales\".\"events_cdc_slots\"", names.Tables.CdcSlots);
        Assert.Equal("\"pub\"", names.QuotedPublication);
        Assert.Equal("sales", names.Tables.Schema);
        Assert.Equal("events", names.Tables.MessagesTableName);
    }

    [Fact]
    public void Derived_names_stay_within_postgresql_identifier_length()
    {
        // A 63-character table name is refused (issue 14, item 7): other names derived from it (the lane index, the
        // commit trigger) would not fit. The longest accepted one derives CDC names that fit.
        var table = "t" + new string('x', 62);
        var error = Assert.Throws<OutboxConfigurationException>(() => new CdcNames(new OutboxOptions { MessagesTable = table }, "slot", "pub"));
        Assert.Contains("OutboxOptions.MessagesTable", error.Message, StringComparison.Ordinal);

        var names = new CdcNames(new OutboxOptions { MessagesTable = "t" + new string('x', 43) }, "slot", "pub");
        var backlog = names.Tables.CdcBacklog.Split('.')[1].Trim('"');
        Assert.True(backlog.Length <= 63, backlog);
        Assert.EndsWith("_cdc_backlog", backlog, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_slot_name_names_the_option_it_came_from()
    {
        var error = Assert.Throws<OutboxConfigurationException>(() => new CdcNames(new OutboxOptions(), "Bad", "pub", "DebeziumOptions.SlotName"));
        Assert.Contains("DebeziumOptions.SlotName", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Slot_and_publication_names_with_a_trailing_newline_are_refused()
    {
        // The patterns ended in '$', which also matches before a final newline.
        Assert.False(CdcNames.IsValidSlotName("outbox_cdc\n"));
        Assert.True(CdcNames.IsValidSlotName("outbox_cdc"));
        var error = Assert.Throws<OutboxConfigurationException>(() => new CdcNames(new OutboxOptions(), "slot", "pub\n"));
        Assert.Contains("CdcRelayOptions.PublicationName", error.Message, StringComparison.Ordinal);
    }
}
