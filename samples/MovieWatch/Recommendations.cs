using Microsoft.EntityFrameworkCore;
using MovieWatch.Data;

namespace MovieWatch;

/// <summary>Similar content (the user's favourite genres) of about the length the user prefers, not watched yet.</summary>
public static class Recommendations
{
    public static async Task<RecommendationView?> ForUserAsync(MovieWatchDb db, int userId, CancellationToken cancellationToken = default)
    {
        if (!await db.Users.AnyAsync(u => u.Id == userId, cancellationToken))
        {
            return null;
        }

        var stats = await db.GenreStats.AsNoTracking().Where(s => s.UserId == userId).ToListAsync(cancellationToken);
        var watches = stats.Sum(s => s.Watches);
        if (watches == 0)
        {
            return new RecommendationView(userId, 0, [], null, []);
        }

        var preferredLength = (int)(stats.Sum(s => s.TotalLengthSeconds) / watches);
        var topGenres = stats.OrderByDescending(s => s.Watches).ThenBy(s => s.Genre, StringComparer.Ordinal).Take(2).Select(s => s.Genre).ToList();
        var watched = await db.WatchHistory.AsNoTracking().Where(w => w.UserId == userId).Select(w => w.MovieId).Distinct().ToListAsync(cancellationToken);
        var candidates = await db.Movies.AsNoTracking().Where(m => topGenres.Contains(m.Genre) && !watched.Contains(m.Id)).ToListAsync(cancellationToken);
        var picks = candidates
            .OrderBy(m => topGenres.IndexOf(m.Genre))
            .ThenBy(m => Math.Abs(m.LengthSeconds - preferredLength))
            .Take(5)
            .Select(m => new RecommendedMovie(m.Id, m.Title, m.Genre, m.LengthSeconds / 60))
            .ToList();
        return new RecommendationView(
            userId,
            watches,
            stats.OrderByDescending(s => s.Watches).Select(s => new GenreCount(s.Genre, s.Watches)).ToList(),
            preferredLength / 60,
            picks);
    }
}

public sealed record RecommendationView(int UserId, int Watches, IReadOnlyList<GenreCount> Genres, int? PreferredMinutes, IReadOnlyList<RecommendedMovie> Movies);

public sealed record GenreCount(string Genre, int Watches);

public sealed record RecommendedMovie(int Id, string Title, string Genre, int Minutes);
