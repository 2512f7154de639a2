using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using Outbox.Providers;

namespace Outbox.Inbox;

/// <summary>
/// The handlers of one consumer group by event type name, the topics it reads, and how a record becomes an
/// <see cref="InboxItem"/>: the type header selects the mapping of the write side's registry, the value is
/// deserialized with <see cref="OutboxOptions.JsonSerializerOptions"/>.
/// </summary>
internal sealed class InboxRoutes
{
    private readonly OutboxEventRegistry _registry;
    private readonly JsonSerializerOptions _jsonOptions;
    private readonly FrozenDictionary<Type, InboxSubscription[]> _byEventType;
    private readonly string? _tenantHeader;

    public InboxRoutes(string consumerGroup, IReadOnlyList<InboxSubscription> subscriptions, OutboxEventRegistry registry, OutboxOptions options, string? tenantHeader = null)
    {
        _tenantHeader = tenantHeader;
        ArgumentNullException.ThrowIfNull(subscriptions);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        if (subscriptions.Count == 0)
        {
            throw new OutboxConfigurationException(
                $"Consumer group '{consumerGroup}' has no subscriptions: call Subscribe<TEvent, THandler>() in AddConsumer.");
        }

        _registry = registry;
        _jsonOptions = options.JsonSerializerOptions;
        var topics = new List<string>();
        foreach (var subscription in subscriptions)
        {
            EventMapping mapping;
            try
            {
                mapping = registry.GetMapping(subscription.EventType);
            }
            catch (UnmappedEventException ex)
            {
                throw new OutboxConfigurationException(
                    $"Consumer group '{consumerGroup}' subscribes {subscription.HandlerType.Name} to '{subscription.EventType.FullName}', which is not mapped: {ex.Message}");
            }

            var topic = options.GetTopic(mapping.AggregateType);
            if (!topics.Contains(topic, StringComparer.Ordinal))
            {
                topics.Add(topic);
            }
        }

        Topics = topics;
        _byEventType = subscriptions.GroupBy(s => s.EventType).ToFrozenDictionary(g => g.Key, g => g.ToArray());
    }

    /// <summary>Gets the topics the group reads, in subscription order.</summary>
    public IReadOnlyList<string> Topics { get; }

    public InboxItem Read(InboxRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var tenant = TenantOf(record);
        if (string.IsNullOrEmpty(record.Id))
        {
            return DeadLetter(record, tenant, DeadLetterReason.MissingId, "MissingId",
                "The record has no 'id' header: the inbox deduplicates on the event id, so it cannot handle the record exactly once.");
        }

        if (string.IsNullOrEmpty(record.Type))
        {
            return DeadLetter(record, tenant, DeadLetterReason.UnknownEventType, "MissingType",
                "The record has no 'type' header: the event type cannot be determined.");
        }

        if (!_registry.TryGetByTypeName(record.Type, out var mapping))
        {
            return DeadLetter(record, tenant, DeadLetterReason.UnknownEventType, "UnknownEventType",
                $"Event type '{record.Type}' is not mapped in this application (OutboxOptions.MapEvent): it cannot be deserialized.");
        }

        if (!_byEventType.TryGetValue(mapping.EventType, out var handlers))
        {
            return new InboxItem { Record = record, Kind = InboxRecordKind.Skip, Tenant = tenant };
        }

        if (record.Value is null || record.Value.Length == 0)
        {
            return DeadLetter(record, tenant, DeadLetterReason.MalformedPayload, "EmptyPayload",
                $"The record of event type '{record.Type}' has no value.");
        }

        object? evt;
        try
        {
            evt = JsonSerializer.Deserialize(record.Value, mapping.EventType, _jsonOptions);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            return DeadLetter(record, tenant, DeadLetterReason.MalformedPayload, ex.GetType().FullName!,
                $"The value is not a valid JSON '{mapping.EventType.FullName}' (event type '{record.Type}'): {ex.Message}");
        }

        if (evt is null)
        {
            return DeadLetter(record, tenant, DeadLetterReason.MalformedPayload, "NullPayload",
                $"The value of event type '{record.Type}' is JSON null.");
        }

        return new InboxItem { Record = record, Kind = InboxRecordKind.Handle, Event = evt, Handlers = handlers, Tenant = tenant };
    }

    private static InboxItem DeadLetter(InboxRecord record, string? tenant, string reason, string errorType, string message) =>
        new() { Record = record, Kind = InboxRecordKind.DeadLetter, DeadLetter = new DeadLetter(reason, errorType, message, 0), Tenant = tenant };

    /// <summary>The routing header's last value; no header, or an empty value, is the consumer's own database.</summary>
    private string? TenantOf(InboxRecord record)
    {
        if (_tenantHeader is null)
        {
            return null;
        }

        string? tenant = null;
        foreach (var header in record.Headers)
        {
            if (header.Key == _tenantHeader)
            {
                tenant = header.Value is { Length: > 0 } value ? Encoding.UTF8.GetString(value) : null;
            }
        }

        return tenant;
    }
}
