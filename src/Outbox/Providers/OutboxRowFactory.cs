using System.Diagnostics;

namespace Outbox.Providers;

/// <summary>
/// For a store's own write API (for example <c>OutboxWriter</c> of Outbox.PostgreSql): turns events into outbox rows
/// exactly as the EF Core interceptor does (mapping, serialization, payload limit, lane, id, trace context) and records
/// the write path's telemetry (the <c>outbox enqueue</c> span and the <c>outbox.messages.enqueued</c> counter).
/// One per container, registered by <c>AddOutbox()</c>. For provider packages; applications do not use this.
/// </summary>
public sealed class OutboxRowFactory
{
    private readonly OutboxMessageFactory _factory;
    private readonly EnqueueTelemetry _telemetry;

    internal OutboxRowFactory(OutboxMessageFactory factory, EnqueueTelemetry telemetry)
    {
        _factory = factory;
        _telemetry = telemetry;
    }

    /// <summary>Gets the outbox options (table names, payload limit, lanes).</summary>
    public OutboxOptions Options => _factory.Options;

    /// <summary>
    /// Starts the <c>outbox enqueue</c> span and makes it current, so that the rows created next store its trace context.
    /// Dispose it when the rows are written; <see langword="null"/> when nobody listens.
    /// </summary>
    /// <param name="writer">The writer's name (the <c>outbox.writer</c> tag).</param>
    /// <param name="count">How many events are written.</param>
    /// <returns>The span, or <see langword="null"/>.</returns>
    public static Activity? StartEnqueue(string writer, int count) => EnqueueTelemetry.Start(writer, count);

    /// <summary>Turns one event into a row (not written yet).</summary>
    /// <param name="evt">The event; its type must be mapped.</param>
    /// <returns>The row to write.</returns>
    /// <exception cref="UnmappedEventException">The event's type is not mapped.</exception>
    /// <exception cref="PayloadTooLargeException">The payload is over <see cref="OutboxOptions.MaxPayloadBytes"/>.</exception>
    /// <exception cref="OutboxException">The aggregate id is not valid UTF-16.</exception>
    public OutboxMessage Create(object evt) => _factory.Create(evt);

    /// <summary>Counts rows the store has written (call it once the write succeeded).</summary>
    /// <param name="messages">The rows written.</param>
    public void Written(IEnumerable<OutboxMessage> messages) => _telemetry.Written(messages);
}
