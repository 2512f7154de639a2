using Microsoft.EntityFrameworkCore;
using MovieWatch.Data;
using MovieWatch.Events;

namespace MovieWatch;

/// <summary>"Watch now": one SaveChanges stores the watch-history row and the MovieStarted event, or neither.</summary>
public sealed class WatchService(MovieWatchDb db, TimeProvider time)
{
    public async Task<WatchResult> WatchAsync(int userId, int movieId, CancellationToken cancellationToken = default)
    {
        if (!await db.Users.AnyAsync(u => u.Id == userId, cancellationToken))
        {
            return WatchResult.UnknownUser;
        }

        var movie = await db.Movies.AsNoTracking().SingleOrDefaultAsync(m => m.Id == movieId, cancellationToken);
        if (movie is null)
        {
            return WatchResult.UnknownMovie;
        }

        var watch = new WatchEntry { Id = Guid.CreateVersion7(), UserId = userId, MovieId = movieId, StartedAt = time.GetUtcNow() };
        db.WatchHistory.Add(watch);
        db.Outbox().Add(new MovieStarted(watch.Id, userId, movieId, movie.Genre, movie.Channel, movie.LengthSeconds, watch.StartedAt));
        await db.SaveChangesAsync(cancellationToken);
        return WatchResult.Started(watch);
    }
}

public sealed record WatchResult(WatchEntry? Watch, string? Error)
{
    public static WatchResult UnknownUser { get; } = new(null, "user");

    public static WatchResult UnknownMovie { get; } = new(null, "movie");

    public static WatchResult Started(WatchEntry watch) => new(watch, null);
}
