namespace MovieWatch.Data;

/// <summary>The recommendation service's side: per-user, per-genre counts and watched length.</summary>
public sealed class GenreStat
{
    public int UserId { get; set; }

    public string Genre { get; set; } = "";

    public int Watches { get; set; }

    public long TotalLengthSeconds { get; set; }
}
