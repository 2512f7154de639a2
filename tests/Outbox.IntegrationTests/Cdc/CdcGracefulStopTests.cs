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
}
