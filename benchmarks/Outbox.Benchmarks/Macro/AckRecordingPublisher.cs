using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.Benchmarks.Macro;

/// <summary>
/// Wraps the library's publisher (whatever <c>UseKafka</c> registered) and records when each call returned with
/// acknowledged messages: the moment the relay itself knows Kafka has the record. A message's ack time is the end of
/// the publish call that carried it, an upper bound of the broker's acknowledgement.
/// </summary>
internal sealed class AckRecordingPublisher(IOutboxPublisher inner, AckRecorder recorder) : IOutboxPublisher
{
    public async ValueTask<PublishResult[]> PublishAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        TrackHandOver(messages, started);
        var results = await inner.PublishAsync(messages, cancellationToken);
        var finished = Stopwatch.GetTimestamp();
        var acknowledged = messages.Count <= 4096 ? stackalloc bool[messages.Count] : new bool[messages.Count];
        for (var i = 0; i < results.Length; i++)
        {
            acknowledged[i] = results[i].Status == PublishStatus.Acknowledged;
        }

        recorder.Published(messages, acknowledged, started, finished);
        return results;
    }

    public async ValueTask<PublishHandOver> HandOverAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        TrackHandOver(messages, started);
        var handOver = await inner.HandOverAsync(messages, cancellationToken);
        return handOver with { Results = RecordAsync(handOver.Results, messages, started) };
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private void TrackHandOver(IReadOnlyList<OutboxRecord> messages, long started)
    {
        if (!recorder.TrackHandOver)
        {
            return;
        }

        foreach (var message in messages)
        {
            var account = TopicVerifier.ParseAccount(System.Text.Encoding.UTF8.GetBytes(message.AggregateId));
            var seq = TopicVerifier.ParseSeq(System.Text.Encoding.UTF8.GetBytes(message.Payload));
            recorder.HandedOver.TryAdd(message.Id, (started, account < 0 || seq < 0 ? -1 : (seq * recorder.Keys) + account));
        }
    }

    private async Task<PublishResult[]> RecordAsync(Task<PublishResult[]> pending, IReadOnlyList<OutboxRecord> messages, long started)
    {
        var results = await pending;
        var finished = Stopwatch.GetTimestamp();
        var acknowledged = new bool[messages.Count];
        for (var i = 0; i < results.Length; i++)
        {
            acknowledged[i] = results[i].Status == PublishStatus.Acknowledged;
        }

        recorder.Published(messages, acknowledged, started, finished);
        return results;
    }

    /// <summary>Replaces the registered <see cref="IOutboxPublisher"/> with this wrapper around it.</summary>
    public static void Decorate(IServiceCollection services, AckRecorder recorder)
    {
        var descriptor = services.LastOrDefault(d => d.ServiceType == typeof(IOutboxPublisher))
            ?? throw new InvalidOperationException("No IOutboxPublisher is registered: call UseKafka first.");
        services.Remove(descriptor);
        services.AddSingleton<IOutboxPublisher>(sp =>
        {
            var inner = descriptor.ImplementationInstance as IOutboxPublisher
                ?? descriptor.ImplementationFactory?.Invoke(sp) as IOutboxPublisher
                ?? (IOutboxPublisher)ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!);
            return new AckRecordingPublisher(inner, recorder);
        });
    }
}
