using Npgsql;
using Outbox.PostgreSql;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// A graceful stop settles everything the relay sent (docs/relay-cdc.md): a relay started again on the same slot
/// publishes the rest, and repeats nothing, even when the stop comes while a transaction is published in several batches.
/// </summary>
[Collection(CdcCollection.Name)]
public sealed class CdcGracefulStopTests(ITestOutputHelper output)
{
    private const int StoppingEventId = 5019;

    [Fact]
    public async Task A_stop_while_a_transaction_is_published_in_several_batches_finishes_it_so_a_restart_repeats_nothing()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        AckGatedPublisher? gated = null;
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        harness.Logged += (name, id) =>
        {
            if (name == "relay-1" && id.Id == StoppingEventId)
            {
                stopping.TrySetResult();
            }
        };

        // Batches of at most two rows, one at a time: a transaction of three rows is published in two batches at least.
        var first = await harness.StartRelayHostAsync(
            "relay-1",
            o =>
            {
                o.MaxBatchSize = 2;
                o.MaxBatchesInFlight = 1;
            },
            services: s => AckGatedPublisher.Decorate(s, p => gated = p));
        await harness.WaitUntilStreamingAsync(first);
        await harness.WriteAsync(3, keys: 3, perTransaction: 3);

        // The first batch is in Kafka, its acknowledgements held back; the stop begins; only then do they arrive.
        await gated!.FirstHandOver.WaitAsync(TimeSpan.FromSeconds(60));
        var stop = first.StopAsync();
        await stopping.Task.WaitAsync(TimeSpan.FromSeconds(60));
        gated.Open();
        await stop.WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"relay-1 handed {gated.RowsHandedOver} rows to Kafka before it stopped");

        // The same slot, streamed again: everything arrives, nothing twice (a marker written now shows the restarted
        // relay has streamed past whatever it replayed).
        var second = await harness.StartRelayHostAsync("relay-2");
        await harness.WaitUntilStreamingAsync(second);
        var marker = (await harness.WriteKeyAsync("marker")).Single();
        await harness.WaitAsync(
            () => harness.ReadTopic().Exists(r => CdcHarness.EventOf(r) is { Key: "marker" } e && e.Seq == marker.Seq),
            "the restarted relay publishes the marker");
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the published rows are deleted");

        var duplicates = harness.AssertAllInOrder(harness.ReadTopic());
        Assert.Empty(duplicates);
        Assert.Equal(CdcRelayState.Streaming, CdcHarness.MonitorOf(second).State);
    }

    [Fact]
    public async Task A_stop_while_a_delete_of_acknowledged_rows_waits_lets_it_finish_and_confirms_so_a_restart_repeats_nothing()
    {
        await using var harness = await CdcHarness.CreateAsync(output);
        AckGatedPublisher? gated = null;
        var first = await harness.StartRelayHostAsync("relay-1", services: s => AckGatedPublisher.Decorate(s, p => gated = p));
        await harness.WaitUntilStreamingAsync(first);
        await harness.WriteAsync(3, keys: 3, perTransaction: 1);
        await gated!.FirstHandOver.WaitAsync(TimeSpan.FromSeconds(60));

        // The rows are in Kafka; a lock makes the relay's delete of them wait (SHARE conflicts with DELETE's ROW
        // EXCLUSIVE), and the acknowledgements arrive.
        await using var locker = await harness.DataSource.OpenConnectionAsync();
        await using var lockTransaction = await locker.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("LOCK TABLE outbox.messages IN SHARE MODE", locker, lockTransaction))
        {
            await command.ExecuteNonQueryAsync();
        }

        gated.Open();
        await harness.WaitAsync(
            async () =>
            {
                await using var waiting = harness.DataSource.CreateCommand(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'DELETE%'");
                return (long)(await waiting.ExecuteScalarAsync())! > 0;
            },
            "the relay's delete of the acknowledged rows waits on the lock");

        // Stopped while the delete waits; the lock is released once the stop is done, or after 2 s (shaping: a stop
        // that waits for the delete, as it should, would otherwise wait for the lock until ShutdownTimeout).
        var stop = first.StopAsync();
        await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(2)));
        await lockTransaction.RollbackAsync();
        await stop.WaitAsync(TimeSpan.FromSeconds(60));

        var second = await harness.StartRelayHostAsync("relay-2");
        await harness.WaitUntilStreamingAsync(second);
        var marker = (await harness.WriteKeyAsync("marker")).Single();
        await harness.WaitAsync(
            () => harness.ReadTopic().Exists(r => CdcHarness.EventOf(r) is { Key: "marker" } e && e.Seq == marker.Seq),
            "the restarted relay publishes the marker");
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the published rows are deleted");

        var duplicates = harness.AssertAllInOrder(harness.ReadTopic());
        Assert.Empty(duplicates);
    }
}
