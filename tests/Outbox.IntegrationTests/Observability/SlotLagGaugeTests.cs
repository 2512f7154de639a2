using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Outbox.IntegrationTests.Cdc;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Observability;

/// <summary>The CDC slot's lag gauge, in the CDC collection (slots and WAL senders are cluster-wide).</summary>
[Collection(CdcCollection.Name)]
public sealed class SlotLagGaugeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Slot_lag_reports_the_WAL_the_slot_has_not_confirmed_tagged_with_the_slot()
    {
        await using var harness = await CdcHarness.CreateAsync(output, partitions: 1);
        AckGatedPublisher? gated = null;
        var host = await harness.StartRelayHostAsync("relay", services: s => AckGatedPublisher.Decorate(s, p => gated = p));
        using var lag = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), OutboxDiagnostics.RelaySourceName, "outbox.cdc.slot.lag");
        await harness.WaitUntilStreamingAsync(host);

        // The relay has the rows but no acknowledgement from the broker: the slot cannot confirm past them.
        await harness.WriteAsync(3, keys: 3);
        await gated!.FirstHandOver.WaitAsync(TimeSpan.FromSeconds(60));

        await Eventually.TrueAsync(
            () =>
            {
                lag.Clear();
                lag.RecordObservableInstruments();
                return lag.LastMeasurement is { Value: > 0 };
            },
            "the gauge reports the unconfirmed WAL");
        Assert.Equal(harness.SlotName, lag.LastMeasurement!.Tags["outbox.cdc.slot"]);

        gated.Open();
        await harness.WaitAsync(async () => await harness.CountPendingAsync() == 0, "the relay settles the rows");
        await host.StopAsync();
    }
}
