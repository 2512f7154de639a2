using Microsoft.EntityFrameworkCore;

namespace MovieWatch.Data;

/// <summary>A few dozen movies across genres and channels, and numbered users.</summary>
public static class Seed
{
    private static readonly (string Title, string Genre, string Channel, int Minutes)[] Movies =
    [
        ("The Long Night", "Drama", "Cinema+", 128), ("Quiet Harbour", "Drama", "Arthouse", 104), ("Paper Lanterns", "Drama", "Arthouse", 97),
        ("Small Hours", "Drama", "Cinema+", 112), ("Winter Orchard", "Drama", "Classics", 139), ("The Last Ferry", "Drama", "Cinema+", 91),
        ("Laugh Track", "Comedy", "FunBox", 88), ("Office Plants", "Comedy", "FunBox", 95), ("Wrong Wedding", "Comedy", "Cinema+", 101),
        ("Cat Burglars", "Comedy", "FunBox", 86), ("Holiday Mixup", "Comedy", "Family", 92), ("Uncle Vlad", "Comedy", "FunBox", 79),
        ("Red Protocol", "Action", "Thrill", 118), ("Overdrive", "Action", "Thrill", 109), ("Iron Coast", "Action", "Cinema+", 126),
        ("Zero Hour", "Action", "Thrill", 99), ("Skyfall Station", "Action", "Thrill", 131), ("Blackout", "Action", "Cinema+", 107),
        ("Orbit", "Sci-Fi", "Nebula", 142), ("Signal Lost", "Sci-Fi", "Nebula", 116), ("Glass Planet", "Sci-Fi", "Nebula", 124),
        ("Time Tenant", "Sci-Fi", "Cinema+", 103), ("The Seventh Moon", "Sci-Fi", "Nebula", 151), ("Androids Dream", "Sci-Fi", "Classics", 117),
        ("Whispering Pines", "Horror", "Night", 94), ("The Cellar", "Horror", "Night", 89), ("Hollow Eyes", "Horror", "Night", 98),
        ("Room 13", "Horror", "Thrill", 85), ("Deep Waters", "Documentary", "Discover", 52), ("Bees at Work", "Documentary", "Discover", 48),
        ("Mountain Life", "Documentary", "Discover", 61), ("Chip Makers", "Documentary", "Discover", 57), ("Dragon Valley", "Animation", "Family", 93),
        ("Robot Pals", "Animation", "Family", 84), ("Star Puppies", "Animation", "Family", 79), ("Moonlight Waltz", "Romance", "Cinema+", 110),
        ("Letters to Lisbon", "Romance", "Arthouse", 102), ("Second Spring", "Romance", "Classics", 96),
    ];

    public static async Task EnsureSeededAsync(MovieWatchDb db, int users, CancellationToken cancellationToken = default)
    {
        if (!await db.Movies.AnyAsync(cancellationToken))
        {
            db.Movies.AddRange(Movies.Select((m, i) => new Movie
            {
                Id = i + 1,
                Title = m.Title,
                Genre = m.Genre,
                Channel = m.Channel,
                LengthSeconds = m.Minutes * 60,
            }));
        }

        var existing = await db.Users.Select(u => u.Id).ToListAsync(cancellationToken);
        var names = new[] { "Ada", "Linus", "Grace", "Alan", "Barbara", "Edsger", "Margaret", "Dennis", "Frances", "Ken" };
        for (var id = 1; id <= users; id++)
        {
            if (!existing.Contains(id))
            {
                db.Users.Add(new User { Id = id, Name = id <= names.Length ? names[id - 1] : $"User {id}" });
            }
        }

        await db.SaveChangesAsync(cancellationToken);
    }
}
