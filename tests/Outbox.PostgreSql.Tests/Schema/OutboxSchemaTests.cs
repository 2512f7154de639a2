using Microsoft.Extensions.DependencyInjection;
using Outbox.PostgreSql;

namespace Outbox.PostgreSql.Tests.Schema;

public sealed class OutboxSchemaTests
{
    [Fact]
    public void The_default_script_has_the_commit_order_trigger_and_numbers_rows_written_without_it()
    {
        var script = OutboxSchema.CreateScript(new OutboxOptions { Schema = "sales", MessagesTable = "events" });

        Assert.Equal(script, OutboxSchema.CreateScript(new OutboxOptions { Schema = "sales", MessagesTable = "events" }, OutboxCommitOrder.Trigger));
        Assert.Contains("CREATE CONSTRAINT TRIGGER \"events_commit_seq\"", script, StringComparison.Ordinal);
        Assert.Contains("pg_notify('sales.events'", script, StringComparison.Ordinal);
        Assert.Contains("WHERE commit_seq IS NULL AND published_at IS NULL", script, StringComparison.Ordinal);
    }

    [Fact]
    public void The_write_ahead_log_script_leaves_out_only_the_trigger()
    {
        var options = new OutboxOptions { Schema = "sales", MessagesTable = "events" };
        var script = OutboxSchema.CreateScript(options, OutboxCommitOrder.WriteAheadLog);

        Assert.DoesNotContain("CREATE CONSTRAINT TRIGGER", script, StringComparison.Ordinal);
        Assert.DoesNotContain("CREATE OR REPLACE FUNCTION", script, StringComparison.Ordinal);
        Assert.DoesNotContain("pg_notify", script, StringComparison.Ordinal);
        Assert.DoesNotContain("DROP", script, StringComparison.OrdinalIgnoreCase);
        foreach (var created in new[]
                 {
                     "CREATE SEQUENCE IF NOT EXISTS \"sales\".\"events_commit_seq\"",
                     "CREATE TABLE IF NOT EXISTS \"sales\".\"events\" (",
                     "CREATE INDEX IF NOT EXISTS \"ix_events_lane_commit_seq\"",
                     "CREATE TABLE IF NOT EXISTS \"sales\".\"events_cdc_slots\"",
                     "CREATE TABLE IF NOT EXISTS \"sales\".\"events_cdc_backlog\"",
                     "CREATE TABLE IF NOT EXISTS \"sales\".\"dead_letters\"",
                     "CREATE TABLE IF NOT EXISTS \"sales\".\"inbox\"",
                 })
        {
            Assert.Contains(created, script, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_unknown_commit_order_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => OutboxSchema.CreateScript(new OutboxOptions(), (OutboxCommitOrder)7));
    }

    [Theory]
    [InlineData(null, OutboxCommitOrder.Trigger)]
    [InlineData(nameof(RelayMode.Polling), OutboxCommitOrder.Trigger)]
    [InlineData(nameof(RelayMode.Cdc), OutboxCommitOrder.WriteAheadLog)]
    [InlineData(nameof(RelayMode.Debezium), OutboxCommitOrder.WriteAheadLog)]
    public void The_schema_leaves_out_the_trigger_only_when_the_relay_mode_reads_commit_order_from_the_wal(string? mode, OutboxCommitOrder expected)
    {
        var services = new ServiceCollection();
        if (mode is not null)
        {
            RelayModeRegistration.Register(services, Enum.Parse<RelayMode>(mode));
        }

        var registration = services.Where(d => d.ServiceType == typeof(RelayModeRegistration)).Select(d => d.ImplementationInstance).OfType<RelayModeRegistration>().SingleOrDefault();
        Assert.Equal(expected, RelayModeRegistration.CommitOrderOf(registration));
    }
}
