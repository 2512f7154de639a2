using Microsoft.Extensions.DependencyInjection;
using Outbox.Providers;
using Outbox.Relay;

namespace Outbox.IntegrationTests.Cdc;

/// <summary>
/// Fault injection around the real Kafka publisher: every record is handed to Kafka for real at once, but the relay
/// sees the acknowledgements only once the test opens the gate (a broker slow to acknowledge), so a test can decide
/// what the relay is doing when they arrive.
/// </summary>
internal sealed class AckGatedPublisher(IOutboxPublisher inner) : IOutboxPublisher
{
    private readonly TaskCompletionSource _handedOver = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _rowsHandedOver;

    /// <summary>Gets a task that completes once a first batch was handed to Kafka.</summary>
    public Task FirstHandOver => _handedOver.Task;

    /// <summary>Gets how many rows were handed to Kafka so far.</summary>
    public int RowsHandedOver => Volatile.Read(ref _rowsHandedOver);

    /// <summary>Replaces the host's publisher with one that wraps it; <paramref name="created"/> receives the wrapper.</summary>
    public static void Decorate(IServiceCollection services, Action<AckGatedPublisher> created)
    {
        var descriptor = services.Single(d => d.ServiceType == typeof(IOutboxPublisher));
        services.Remove(descriptor);
        services.AddSingleton<IOutboxPublisher>(sp =>
        {
            var publisher = new AckGatedPublisher((IOutboxPublisher)descriptor.ImplementationFactory!(sp));
            created(publisher);
            return publisher;
        });
    }

    public void Open() => _gate.TrySetResult();

    public async ValueTask<PublishResult[]> PublishAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        var handOver = await HandOverAsync(messages, cancellationToken);
        return await handOver.Results;
    }

    public async ValueTask<PublishHandOver> HandOverAsync(IReadOnlyList<OutboxRecord> messages, CancellationToken cancellationToken)
    {
        var handOver = await inner.HandOverAsync(messages, cancellationToken);
        Interlocked.Add(ref _rowsHandedOver, messages.Count);
        _handedOver.TrySetResult();
        return handOver with { Results = GatedAsync(handOver.Results) };
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private async Task<PublishResult[]> GatedAsync(Task<PublishResult[]> results)
    {
        var delivered = await results;
        await _gate.Task;
        return delivered;
    }
}
