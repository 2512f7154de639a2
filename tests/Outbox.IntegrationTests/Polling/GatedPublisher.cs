using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.IntegrationTests.Polling;

/// <summary>
/// Fault injection around the real Kafka publisher: sends the first <c>passThrough</c> records of a batch to Kafka for
/// real, then stalls (like a process frozen mid-batch) until the test opens the gate. The records it did not send are
/// reported as not attempted.
/// </summary>
internal sealed class GatedPublisher(IOutboxPublisher inner, int passThrough = int.MaxValue) : IOutboxPublisher
{
    private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets a task that completes when a batch has been (partly) sent and is stalled at the gate.</summary>
    public Task Stalled => _stalled.Task;

    public void Open() => _gate.TrySetResult();

    public async ValueTask<PublishResult[]> PublishAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        var sent = messages.Take(passThrough).ToList();
        var results = await inner.PublishAsync(sent, cancellationToken);
        _stalled.TrySetResult();
        await _gate.Task.WaitAsync(cancellationToken);
        return [.. results, .. Enumerable.Repeat(PublishResult.NotAttempted, messages.Count - sent.Count)];
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
