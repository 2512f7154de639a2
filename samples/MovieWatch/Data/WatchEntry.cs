namespace MovieWatch.Data;

public sealed class WatchEntry
{
    public Guid Id { get; set; }

    public int UserId { get; set; }

    public int MovieId { get; set; }

    public DateTimeOffset StartedAt { get; set; }
}
