using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Outbox;

/// <summary>Turns an event into an <see cref="OutboxMessage"/>: mapping, serialization, size limit, lane, id and trace context.</summary>
internal sealed class OutboxMessageFactory
{
    private readonly OutboxEventRegistry _registry;
    private readonly OutboxOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly MonotonicUuidV7 _ids;

    public OutboxMessageFactory(OutboxEventRegistry registry, OutboxOptions options, TimeProvider timeProvider)
    {
        _registry = registry;
        _options = options;
        _timeProvider = timeProvider;
        _ids = new MonotonicUuidV7(timeProvider);
    }

    public OutboxOptions Options => _options;

    public OutboxEventRegistry Registry => _registry;

    public OutboxMessage Create(object evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        var type = evt.GetType();
        var mapping = _registry.GetMapping(type);
        var payload = JsonSerializer.Serialize(evt, type, _options.JsonSerializerOptions);

        // Cheap upper bound first: a UTF-16 char is at most 3 UTF-8 bytes.
        if (payload.Length * 3L > _options.MaxPayloadBytes)
        {
            var size = Encoding.UTF8.GetByteCount(payload);
            if (size > _options.MaxPayloadBytes)
            {
                throw new PayloadTooLargeException(type, size, _options.MaxPayloadBytes);
            }
        }

        var aggregateId = mapping.GetAggregateId(evt);
        var activity = Activity.Current;
        string? traceParent = null;
        string? traceState = null;
        if (activity is { IdFormat: ActivityIdFormat.W3C })
        {
            traceParent = activity.Id;
            traceState = activity.TraceStateString;
        }

        return new OutboxMessage
        {
            Id = _ids.Next(),
            AggregateType = mapping.AggregateType,
            AggregateId = aggregateId,
            Type = mapping.TypeName,
            Payload = payload,
            Lane = LaneHash.Compute(aggregateId, _options.LaneCount),
            CreatedAt = _timeProvider.GetUtcNow(),
            TraceParent = traceParent,
            TraceState = traceState,
        };
    }
}
