using System.ComponentModel.DataAnnotations;
using System.Text.Json;

namespace Outbox;

/// <summary>Options of the outbox: table names, lanes, payload limits, serialization and the event mappings.</summary>
public sealed class OutboxOptions
{
    /// <summary>The placeholder in <see cref="TopicTemplate"/> replaced by the aggregate type.</summary>
    public const string AggregateTypePlaceholder = "{aggregatetype}";

    private readonly List<EventMapping> _mappings = [];

    /// <summary>Gets or sets the database schema that holds the outbox tables.</summary>
    /// <value>The default is <c>outbox</c>.</value>
    [Required]
    public string Schema { get; set; } = "outbox";

    /// <summary>Gets or sets the name of the outbox table.</summary>
    /// <value>The default is <c>messages</c>.</value>
    [Required]
    public string MessagesTable { get; set; } = "messages";

    /// <summary>Gets or sets the name of the lane-lease table of the polling relay.</summary>
    /// <value>The default is <c>lanes</c>.</value>
    [Required]
    public string LanesTable { get; set; } = "lanes";

    /// <summary>Gets or sets the name of the dead-letter table of the relay.</summary>
    /// <value>The default is <c>dead_letters</c>.</value>
    [Required]
    public string DeadLettersTable { get; set; } = "dead_letters";

    /// <summary>Gets or sets the name of the inbox (deduplication) table.</summary>
    /// <value>The default is <c>inbox</c>.</value>
    [Required]
    public string InboxTable { get; set; } = "inbox";

    /// <summary>Gets or sets the name of the table of consumed offsets stored by the inbox.</summary>
    /// <value>The default is <c>inbox_offsets</c>.</value>
    [Required]
    public string InboxOffsetsTable { get; set; } = "inbox_offsets";

    /// <summary>Gets or sets the number of lanes rows are spread over by a stable hash of their aggregate id.</summary>
    /// <value>The default is 64. Changing it moves keys between lanes: drain the outbox first (see docs/relay-polling.md).</value>
    [Range(1, 4096)]
    public int LaneCount { get; set; } = 64;

    /// <summary>Gets or sets the largest serialized event payload accepted, in bytes.</summary>
    /// <value>The default is 1 MiB (1,048,576).</value>
    [Range(1, 256 * 1024 * 1024)]
    public int MaxPayloadBytes { get; set; } = 1024 * 1024;

    /// <summary>Gets or sets the Kafka topic template; <c>{aggregatetype}</c> is replaced by the aggregate type.</summary>
    /// <value>The default is <c>outbox.event.{aggregatetype}</c>, Debezium's default route.</value>
    [Required]
    public string TopicTemplate { get; set; } = "outbox.event." + AggregateTypePlaceholder;

    /// <summary>Gets or sets the serializer options for event payloads. Set a source-generated
    /// <see cref="System.Text.Json.Serialization.JsonSerializerContext"/> as its <c>TypeInfoResolver</c> for trimming-safe, faster serialization.</summary>
    /// <value>The default is <see cref="JsonSerializerDefaults.Web"/>.</value>
    [Required]
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = new(JsonSerializerDefaults.Web);

    /// <summary>Gets the registered event mappings.</summary>
    public IReadOnlyList<EventMapping> Mappings => _mappings;

    /// <summary>Maps an event type to its aggregate type and key.</summary>
    /// <typeparam name="TEvent">The CLR type of the event.</typeparam>
    /// <param name="aggregateType">The aggregate type: selects the topic (letters, digits, '.', '_' and '-').</param>
    /// <param name="aggregateId">Selects the aggregate id (the Kafka key and the unit of ordering) of an event.</param>
    /// <param name="typeName">The type name stored in the <c>type</c> column; the default is the CLR type's name.</param>
    /// <returns>These options, for chaining.</returns>
    /// <exception cref="ArgumentException">The aggregate type or type name is empty, the aggregate type has characters a topic cannot hold, or the type name is not valid UTF-16.</exception>
    public OutboxOptions MapEvent<TEvent>(string aggregateType, Func<TEvent, string> aggregateId, string? typeName = null)
        where TEvent : class
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(aggregateType);
        ArgumentNullException.ThrowIfNull(aggregateId);
        if (!TopicNames.IsValidTopicPart(aggregateType))
        {
            throw new ArgumentException(
                $"Aggregate type '{aggregateType}' of event '{typeof(TEvent).FullName}' can only hold letters, digits, '.', '_' and '-' (it becomes part of a Kafka topic name).",
                nameof(aggregateType));
        }

        typeName ??= typeof(TEvent).Name;
        ArgumentException.ThrowIfNullOrWhiteSpace(typeName, nameof(typeName));
        if (Utf16Text.IndexOfInvalid(typeName) is var invalid and >= 0)
        {
            throw new ArgumentException(
                $"Type name of event '{typeof(TEvent).FullName}' is not valid UTF-16 ({Utf16Text.Describe(typeName, invalid)}): as a Kafka header it would become U+FFFD.",
                nameof(typeName));
        }

        _mappings.Add(new EventMapping(typeof(TEvent), aggregateType, typeName, e => aggregateId((TEvent)e)));
        return this;
    }

    /// <summary>Gets the topic of an aggregate type according to <see cref="TopicTemplate"/>.</summary>
    /// <param name="aggregateType">The aggregate type.</param>
    /// <returns>The topic name.</returns>
    public string GetTopic(string aggregateType) =>
        TopicTemplate.Replace(AggregateTypePlaceholder, aggregateType, StringComparison.Ordinal);
}
