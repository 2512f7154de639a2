namespace MovieWatch.Data;

public sealed class User
{
    public int Id { get; set; }

    public string Name { get; set; } = "";
}
