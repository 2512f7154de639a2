namespace Outbox.Relay;

/// <summary>The next rows of a lane in commit order (the rows of held keys left out).</summary>
/// <param name="Messages">Up to the batch size of rows, oldest commit first; <see cref="OutboxMessage.Attempts"/> is the
/// failed attempts of a key's retried event, 0 for every other row.</param>
internal sealed record LaneBatch(IReadOnlyList<OutboxMessage> Messages)
{
    public static LaneBatch Empty { get; } = new([]);
}
