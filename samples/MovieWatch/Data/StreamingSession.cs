namespace MovieWatch.Data;

/// <summary>The streaming service's side: one session per watch (unique by watch id).</summary>
public sealed class StreamingSession
{
    public Guid WatchId { get; set; }

    public int UserId { get; set; }

    public int MovieId { get; set; }

    public string Channel { get; set; } = "";

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset OpenedAt { get; set; }
}
