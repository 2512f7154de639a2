namespace Outbox.ChaosTests.Model;

/// <summary>The event of the fleet run: <see cref="Seq"/> counts up per <see cref="Key"/> in commit order; a key lives in one database.</summary>
public sealed record FleetEvent(string Key, int Seq)
{
    public const string AggregateType = "fleet";

    public static void Map(OutboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.MapEvent<FleetEvent>(AggregateType, e => e.Key, nameof(FleetEvent));
    }
}
