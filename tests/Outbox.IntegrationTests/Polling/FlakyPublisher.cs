using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.IntegrationTests.Polling;

/// <summary>
/// Fault injection around the real Kafka publisher: the first event of <paramref name="key"/> in each batch fails with an
/// error the relay counts against the record (as an error the classifier cannot attribute would), while there are
/// failures left; the key's later events of that batch are not attempted, every other event goes to Kafka for real.
/// </summary>
internal sealed class FlakyPublisher(IOutboxPublisher inner, string key, int failures) : IOutboxPublisher
{
    private readonly int _failures = failures;
    private int _left = failures;

    /// <summary>Gets how many failures were injected.</summary>
    public int Injected => _failures - Volatile.Read(ref _left);

    public async ValueTask<PublishResult[]> PublishAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        var results = new PublishResult[messages.Count];
        var send = new List<int>();
        var failed = false;
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i].AggregateId != key)
            {
                send.Add(i);
            }
            else if (!failed && Interlocked.Decrement(ref _left) >= 0)
            {
                failed = true;
                results[i] = PublishResult.Failed("injected: InvalidTimestamp", PublishFailureKind.Record);
            }
            else if (failed)
            {
                results[i] = PublishResult.NotAttempted;
            }
            else
            {
                Interlocked.Increment(ref _left);
                send.Add(i);
            }
        }

        var sent = await inner.PublishAsync(send.ConvertAll(i => messages[i]), cancellationToken);
        for (var j = 0; j < send.Count; j++)
        {
            results[send[j]] = sent[j];
        }

        return results;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
