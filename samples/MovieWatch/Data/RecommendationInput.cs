namespace MovieWatch.Data;

/// <summary>Which watches the recommendation service has counted (the database check of the demo reads it).</summary>
public sealed class RecommendationInput
{
    public Guid WatchId { get; set; }

    public int UserId { get; set; }

    public DateTimeOffset CountedAt { get; set; }
}
