using System.Text;
using Outbox.Providers;
using Outbox.Relay;
using Xunit.Abstractions;

namespace Outbox.IntegrationTests.Polling;

/// <summary>The polling relay's memory is bounded by bytes, not only rows: MaxBytesInFlight split over the lanes in flight.</summary>
public sealed class ByteBudgetTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_batch_ends_before_the_row_that_would_pass_its_share_of_MaxBytesInFlight_and_a_larger_row_goes_alone()
    {
        await using var harness = await RelayHarness.CreateAsync(output, laneCount: 1);
        for (var i = 0; i < 12; i++)
        {
            await harness.WriteAsync(new RelayTestEvent("k", i, new string('x', i == 7 ? 200_000 : 30_000)));
        }

        var recording = new RecordingPublisher(harness.CreatePublisher());
        var relay = harness.CreateEngine("relay", recording, o =>
        {
            o.MaxBytesInFlight = 128 * 1024;
            o.MaxConcurrentLanes = 2;
        });
        await relay.PrepareAsync(CancellationToken.None);
        await relay.RunLeaseCycleAsync(CancellationToken.None);
        var lease = Assert.Single(relay.Scheduler.Leases());
        var outcomes = new List<DrainOutcomeKind>();
        while (await harness.PendingAsync() > 0)
        {
            outcomes.Add((await relay.DrainOnceAsync(lease, CancellationToken.None)).Kind);
        }

        // A batch the budget ended asks for the next one at once (the lane is not left waiting for a notification).
        Assert.All(outcomes.SkipLast(1), k => Assert.Equal(DrainOutcomeKind.More, k));

        // 64 KiB per batch: two 30 KB rows fit, a third would not; the 200 KB row goes alone.
        Assert.All(recording.Batches, b => Assert.True(b.Count == 1 || b.Sum() <= 64 * 1024, $"a batch of {b.Count} rows and {b.Sum()} bytes"));
        Assert.Contains(recording.Batches, b => b.Count == 1 && b[0] > 200_000);
        Assert.Contains(recording.Batches, b => b.Count == 2);
        Assert.Equal(12, recording.Batches.Sum(b => b.Count));
        harness.AssertAllInOrder(harness.ReadTopic(12), new Dictionary<string, int> { ["k"] = 12 });
    }

    private sealed class RecordingPublisher(IOutboxPublisher inner) : IOutboxPublisher
    {
        public List<List<int>> Batches { get; } = [];

        public ValueTask<PublishResult[]> PublishAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
        {
            Batches.Add(messages.Select(m => Encoding.UTF8.GetByteCount(m.Payload)).ToList());
            return inner.PublishAsync(messages, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
