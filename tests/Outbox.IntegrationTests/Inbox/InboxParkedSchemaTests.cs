using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Inbox;

public sealed class InboxParkedSchemaTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_parked_table_is_named_after_the_inbox_table_and_added_to_a_database_made_before_it_existed()
    {
        await using var harness = await InboxHarness.CreateAsync(output, partitions: 1);
        Assert.Equal(1, await harness.ScalarAsync("SELECT count(*) FROM pg_tables WHERE schemaname = 'outbox' AND tablename = 'inbox_parked'"));

        // A database whose schema predates the table (upgrade): the next schema run adds it, and runs again are harmless.
        await harness.ExecuteAsync("DROP TABLE outbox.inbox_parked");
        await OutboxSchema.EnsureCreatedAsync(harness.DataSource, InboxHarness.Options(harness.Prefix));
        await OutboxSchema.EnsureCreatedAsync(harness.DataSource, InboxHarness.Options(harness.Prefix));
        Assert.Equal(1, await harness.ScalarAsync("SELECT count(*) FROM pg_tables WHERE schemaname = 'outbox' AND tablename = 'inbox_parked'"));

        var options = InboxHarness.Options(harness.Prefix);
        options.InboxTable = "received";
        Assert.Contains("CREATE TABLE IF NOT EXISTS \"outbox\".\"received_parked\"", OutboxSchema.CreateScript(options), StringComparison.Ordinal);
    }
}
