using Outbox.Providers;

namespace Outbox.Relay;

/// <summary>The next rows of a lane in commit order (the rows of held keys left out).</summary>
/// <param name="Messages">Up to the batch size of rows, oldest commit first; <see cref="OutboxRecord.Attempts"/> is the
/// failed attempts of a key's retried event, 0 for every other row.</param>
/// <param name="CutByBytes">Whether the byte budget ended the batch before the row count did (more rows are waiting).</param>
internal sealed record LaneBatch(IReadOnlyList<OutboxRecord> Messages, bool CutByBytes = false)
{
    public static LaneBatch Empty { get; } = new([]);
}
