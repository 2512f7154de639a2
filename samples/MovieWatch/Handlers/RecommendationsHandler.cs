using Microsoft.EntityFrameworkCore;
using MovieWatch.Data;
using MovieWatch.Events;
using Outbox;

namespace MovieWatch.Handlers;

/// <summary>The recommendation service: counts each watch once per user and genre, with the watched length.</summary>
public sealed class RecommendationsHandler(MovieWatchDb db, TimeProvider time, RecentEvents recent) : IInboxHandler<MovieStarted>
{
    public const string ConsumerGroup = "movie-recommendations";

    public async Task HandleAsync(MovieStarted evt, MessageContext context, CancellationToken cancellationToken)
    {
        var stat = await db.GenreStats.FindAsync([evt.UserId, evt.Genre], cancellationToken);
        if (stat is null)
        {
            stat = new GenreStat { UserId = evt.UserId, Genre = evt.Genre };
            db.GenreStats.Add(stat);
        }

        stat.Watches++;
        stat.TotalLengthSeconds += evt.LengthSeconds;
        db.RecommendationInputs.Add(new RecommendationInput { WatchId = evt.WatchId, UserId = evt.UserId, CountedAt = time.GetUtcNow() });
        await db.SaveChangesAsync(cancellationToken);
        recent.Add(new RecentEvent("recommendations", context.Id, evt.UserId, evt.MovieId, evt.Genre, context.Offset, context.Partition, time.GetUtcNow()));
    }
}
