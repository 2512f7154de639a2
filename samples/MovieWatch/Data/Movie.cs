namespace MovieWatch.Data;

public sealed class Movie
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public string Genre { get; set; } = "";

    public string Channel { get; set; } = "";

    public int LengthSeconds { get; set; }
}
