namespace MovieWatch.Events;

/// <summary>A user pressed "Watch now": recorded in the same transaction as the watch-history row. Key: the user id.</summary>
public sealed record MovieStarted(
    Guid WatchId,
    int UserId,
    int MovieId,
    string Genre,
    string Channel,
    int LengthSeconds,
    DateTimeOffset StartedAt);
