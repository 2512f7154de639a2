namespace Outbox.ChaosTests.Model;

/// <summary>
/// The event the writers record: <see cref="Version"/> is the aggregate's version after the change, taken under the
/// aggregate's row lock, so it is the commit order of the aggregate's events (1, 2, 3, ... with no gaps once committed).
/// </summary>
/// <param name="ChaosId">The writer's id of the event, recorded in the writer's table in the same transaction.</param>
/// <param name="Key">The aggregate id: the Kafka key and the unit of ordering.</param>
/// <param name="Version">The aggregate's version this event brought it to.</param>
/// <param name="Writer">The writer process that wrote it.</param>
/// <param name="Note">Padding of varying length, so that records differ in size.</param>
public sealed record ChaosEvent(Guid ChaosId, string Key, long Version, int Writer, string Note)
{
    /// <summary>The aggregate type: the events go to topic <c>outbox.event.chaos</c>.</summary>
    public const string AggregateType = "chaos";

    /// <summary>The topic the relays publish to.</summary>
    public const string Topic = "outbox.event." + AggregateType;

    /// <summary>Maps the event on the outbox options; every role calls it, so that all agree on topic and type name.</summary>
    public static void Map(OutboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.MapEvent<ChaosEvent>(AggregateType, e => e.Key);
    }
}
