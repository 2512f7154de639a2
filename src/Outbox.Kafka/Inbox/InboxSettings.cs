namespace Outbox.Inbox;

/// <summary>What the inbox pipeline of one consumer group needs from the transport's options.</summary>
internal sealed record InboxSettings
{
    public required string ConsumerGroup { get; init; }

    public required Type DbContextType { get; init; }

    public int MaxAttempts { get; init; } = 5;

    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
}
