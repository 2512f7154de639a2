namespace Outbox;

/// <summary>How one CLR event type becomes an outbox row: its aggregate type, aggregate id and type name.</summary>
public sealed class EventMapping
{
    private readonly Func<object, string> _aggregateId;

    internal EventMapping(Type eventType, string aggregateType, string typeName, Func<object, string> aggregateId)
    {
        EventType = eventType;
        AggregateType = aggregateType;
        TypeName = typeName;
        _aggregateId = aggregateId;
    }

    /// <summary>Gets the CLR type of the event.</summary>
    public Type EventType { get; }

    /// <summary>Gets the aggregate type written to the <c>aggregatetype</c> column (it selects the topic).</summary>
    public string AggregateType { get; }

    /// <summary>Gets the type name written to the <c>type</c> column and sent as a Kafka header.</summary>
    public string TypeName { get; }

    internal string GetAggregateId(object evt)
    {
        var id = _aggregateId(evt);
        if (string.IsNullOrEmpty(id))
        {
            throw new OutboxException(
                $"The aggregate id selector of event type '{EventType.FullName}' returned an empty value; every event needs a key.");
        }

        return id;
    }
}
