using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Outbox;

/// <summary>Turns an event into an <see cref="OutboxMessage"/>: mapping, serialization, size limit, lane, id and trace context.</summary>
internal sealed class OutboxMessageFactory
{
    private readonly OutboxEventRegistry _registry;
    private readonly OutboxOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly MonotonicUuidV7 _ids;
    private JsonSerializerOptions? _detectingOptions;

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
        var aggregateId = mapping.GetAggregateId(evt);
        if (Utf16Text.IndexOfInvalid(aggregateId) is var invalid and >= 0)
        {
            throw new OutboxException(
                $"The aggregate id of event '{type.FullName}' is not valid UTF-16 ({Utf16Text.Describe(aggregateId, invalid)}): as a Kafka key it would become U+FFFD. The event was not written.");
        }

        var payload = JsonSerializer.Serialize(evt, type, _options.JsonSerializerOptions);

        // System.Text.Json writes a lone surrogate as U+FFFD without a signal: the published event would differ from
        // the one written. Only a payload that holds U+FFFD can be such a case; serializing it again with an encoder
        // that throws on invalid UTF-16 tells a replaced surrogate from a real U+FFFD. One vectorized scan otherwise.
        if (Utf16Text.MayHoldReplacement(payload))
        {
            RefuseInvalidUtf16(evt, type);
        }

        // Cheap upper bound first: a UTF-16 char is at most 3 UTF-8 bytes.
        if (payload.Length * 3L > _options.MaxPayloadBytes)
        {
            var size = Encoding.UTF8.GetByteCount(payload);
            if (size > _options.MaxPayloadBytes)
            {
                throw new PayloadTooLargeException(type, size, _options.MaxPayloadBytes);
            }
        }

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

    private void RefuseInvalidUtf16(object evt, Type type)
    {
        var options = _detectingOptions;
        if (options is null)
        {
            options = new JsonSerializerOptions(_options.JsonSerializerOptions)
            {
                Encoder = new InvalidUtf16DetectingEncoder(_options.JsonSerializerOptions.Encoder ?? JavaScriptEncoder.Default),
            };
            _detectingOptions = options;
        }

        try
        {
            _ = JsonSerializer.Serialize(evt, type, options);
        }
        catch (InvalidUtf16Exception ex)
        {
            throw new OutboxException(
                $"Event '{type.FullName}' holds text that is not valid UTF-16 ({ex.Message}): serialized, it would become U+FFFD and the published event would differ from the one written. The event was not written.",
                ex);
        }
    }
}
