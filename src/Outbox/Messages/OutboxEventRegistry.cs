using System.Collections.Frozen;

namespace Outbox;

/// <summary>
/// The event mappings of <see cref="OutboxOptions"/> (<c>MapEvent</c>), indexed by CLR type and by type name: how the
/// write side names an event and how a reader finds the CLR type of a record's <c>type</c> header. One per container,
/// registered by <c>AddOutbox()</c>; resolve it from DI.
/// </summary>
public sealed class OutboxEventRegistry
{
    private readonly FrozenDictionary<Type, EventMapping> _byType;
    private readonly FrozenDictionary<string, EventMapping> _byTypeName;

    internal OutboxEventRegistry(IEnumerable<EventMapping> mappings)
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

    /// <summary>Gets every mapping.</summary>
    public IEnumerable<EventMapping> Mappings => _byType.Values;

    /// <summary>Gets the mapping of a CLR event type.</summary>
    /// <param name="eventType">The event's CLR type.</param>
    /// <returns>The mapping.</returns>
    /// <exception cref="UnmappedEventException">The type is not mapped.</exception>
    public EventMapping GetMapping(Type eventType) =>
        _byType.TryGetValue(eventType, out var mapping)
            ? mapping
            : throw new UnmappedEventException(eventType);

    /// <summary>Finds the mapping of an event type name (a record's <c>type</c> header).</summary>
    /// <param name="typeName">The type name.</param>
    /// <param name="mapping">The mapping, when found.</param>
    /// <returns>Whether the name is mapped.</returns>
    public bool TryGetByTypeName(string typeName, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out EventMapping mapping) =>
        _byTypeName.TryGetValue(typeName, out mapping!);
}
