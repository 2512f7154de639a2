namespace Outbox.Relay;

/// <summary>The next rows of a lane in commit order.</summary>
/// <param name="Messages">Up to the batch size of rows, oldest commit first.</param>
/// <param name="HeadRetryIn">When the first row failed before and its retry time has not come: how long until it has.</param>
internal sealed record LaneBatch(IReadOnlyList<OutboxMessage> Messages, TimeSpan HeadRetryIn)
{
    public static LaneBatch Empty { get; } = new([], TimeSpan.Zero);
}
