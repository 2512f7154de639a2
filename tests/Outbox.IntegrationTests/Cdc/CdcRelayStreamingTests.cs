using Microsoft.Extensions.Diagnostics.HealthChecks;
using NpgsqlTypes;
using Outbox.IntegrationTests.Infrastructure;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// The CDC relay's normal path: the table does not grow, idle acknowledgement, the backlog. Commit order under
/// interleaved transactions and rollbacks are the relay contract's (Contract/CdcRelayContractTests).
/// </summary>
[Collection(CdcCollection.Name)]
public sealed class CdcRelayStreamingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Rows_are_published_in_commit_order_per_key_and_the_table_does_not_grow()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var host = await harness.StartRelayHostAsync("relay");
        await harness.WaitUntilStreamingAsync(host);
        var monitor = CdcHarness.MonitorOf(host);

        // Three rounds: after each one the table is empty again, and its size stays what the first round needed.
        long? firstRoundSize = null;
        var total = 0;
        for (var round = 0; round < 3; round++)
        {
            var rows = await harness.WriteAsync(2000, keys: 40, perTransaction: 10);
            total += rows.Count;
            await harness.WaitAsync(() => monitor.PublishedCount >= total, $"round {round} is acknowledged");
            await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, $"round {round}'s rows are deleted");
            await using (var vacuum = harness.DataSource.CreateCommand("VACUUM outbox.messages"))
            {
                await vacuum.ExecuteNonQueryAsync();
            }

            await using var size = harness.DataSource.CreateCommand("SELECT pg_table_size('outbox.messages')");
            var bytes = (long)(await size.ExecuteScalarAsync())!;
            output.WriteLine($"round {round}: table size after vacuum {bytes} bytes");
            firstRoundSize ??= bytes;
            Assert.True(bytes <= firstRoundSize * 2 + 65536, $"The table grew from {firstRoundSize} to {bytes} bytes.");
        }

        var records = harness.ReadTopic();
        var duplicates = harness.AssertAllInOrder(records);
        Assert.Empty(duplicates);
        Assert.All(records, r => Assert.Equal(nameof(CdcTestEvent), r.Header("type")));
        Assert.Equal(CdcRelayState.Streaming, monitor.State);
        Assert.Equal(HealthStatus.Healthy, (await monitor.CheckHealthAsync()).Status);
    }

    [Fact]
    public async Task An_idle_relay_confirms_the_stream_position_so_the_slot_does_not_keep_wal()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        var host = await harness.StartRelayHostAsync("relay", o => o.ReplicationTimeout = TimeSpan.FromSeconds(2));
        await harness.WaitUntilStreamingAsync(host);
        await harness.WriteAsync(10, keys: 2);
        await harness.WaitAsync(() => CdcHarness.MonitorOf(host).PublishedCount >= 10, "the rows are published");

        // Only other tables change from now on: the relay must still move the slot past that WAL.
        await using (var other = harness.DataSource.CreateCommand(
            "CREATE TABLE unrelated (id int); INSERT INTO unrelated SELECT generate_series(1, 10000)"))
        {
            await other.ExecuteNonQueryAsync();
        }

        var target = await harness.CurrentLsnAsync();
        await harness.WaitAsync(
            async () => (await harness.ReadSlotAsync()).Confirmed >= target,
            $"the slot's confirmed position passes {target}",
            TimeSpan.FromSeconds(180));

        var status = await CdcHarness.MonitorOf(host).GetSlotStatusAsync();
        output.WriteLine($"lag {status.LagBytes} bytes, retained {status.RetainedWalBytes} bytes, wal_status {status.WalStatus}");
        Assert.Equal("reserved", status.WalStatus);

        // The operator's status (dotnet outbox status) reports the same slot with the same type as the relay's monitor.
        var operations = await new OutboxAdministration(harness.DataSource, harness.OutboxOptions, TimeProvider.System).GetStatusAsync();
        var listed = Assert.Single(operations.ReplicationSlots, s => s.SlotName == harness.SlotName);
        Assert.True(listed.Exists);
        Assert.True(listed.IsActive);
        Assert.NotNull(listed.ActivePid);
        Assert.Equal("reserved", listed.WalStatus);
        Assert.NotNull(listed.ConfirmedFlushLsn);
        Assert.NotNull(listed.LagBytes);
        Assert.NotNull(listed.RetainedWalBytes);
    }

    [Fact]
    public async Task Rows_written_before_the_slot_existed_are_published_first_and_in_order()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 2);

        // Written while no relay ran (for example by the polling relay's writers before switching): not in any stream.
        var before = await harness.WriteAsync(300, keys: 6, perTransaction: 7);
        var host = await harness.StartRelayHostAsync("relay");
        await harness.WaitUntilStreamingAsync(host);
        var after = await harness.WriteAsync(300, keys: 6, perTransaction: 7);

        await harness.WaitAsync(() => CdcHarness.MonitorOf(host).PublishedCount >= 600, "every row is published");
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the table is empty");
        var records = harness.ReadTopic();
        Assert.Empty(harness.AssertAllInOrder(records));
        Assert.Equal(before.Concat(after).Select(r => r.Id).Order(), records.Select(r => r.Id).Order());
        await using var backlog = harness.DataSource.CreateCommand("SELECT count(*) FROM outbox.messages_cdc_backlog");
        Assert.Equal(0L, (long)(await backlog.ExecuteScalarAsync())!);
    }
}
