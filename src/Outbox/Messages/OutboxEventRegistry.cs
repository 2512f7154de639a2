using System.Collections.Frozen;

namespace Outbox;

/// <summary>The event mappings of <see cref="OutboxOptions"/>, indexed by CLR type and by type name.</summary>
internal sealed class OutboxEventRegistry
{
    private readonly FrozenDictionary<Type, EventMapping> _byType;
    private readonly FrozenDictionary<string, EventMapping> _byTypeName;

    public OutboxEventRegistry(IEnumerable<EventMapping> mappings)
    {
        var byType = new Dictionary<Type, EventMapping>();
        var byName = new Dictionary<string, EventMapping>(StringComparer.Ordinal);
        foreach (var mapping in mappings)
        {
            if (!byName.TryAdd(mapping.TypeName, mapping))
            {
                throw new OutboxConfigurationException(
                    $"Event type name '{mapping.TypeName}' is mapped twice (by '{byName[mapping.TypeName].EventType.FullName}' and '{mapping.EventType.FullName}'); pass a distinct typeName to MapEvent.");
            }

            if (!byType.TryAdd(mapping.EventType, mapping))
            {
                throw new OutboxConfigurationException($"Event type '{mapping.EventType.FullName}' is mapped twice.");
            }
        }

        _byType = byType.ToFrozenDictionary();
        _byTypeName = byName.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public IEnumerable<EventMapping> Mappings => _byType.Values;

    public EventMapping GetMapping(Type eventType) =>
        _byType.TryGetValue(eventType, out var mapping)
            ? mapping
            : throw new UnmappedEventException(eventType);

    public bool TryGetByTypeName(string typeName, out EventMapping mapping) =>
        _byTypeName.TryGetValue(typeName, out mapping!);
}
