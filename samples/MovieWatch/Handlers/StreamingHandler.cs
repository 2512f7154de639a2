using MovieWatch.Data;
using MovieWatch.Events;
using Outbox;

namespace MovieWatch.Handlers;

/// <summary>The streaming service: opens one streaming session per watch. The inbox makes it happen once per event.</summary>
public sealed class StreamingHandler(MovieWatchDb db, TimeProvider time, RecentEvents recent) : IInboxHandler<MovieStarted>
{
    public const string ConsumerGroup = "movie-streaming";

    public async Task HandleAsync(MovieStarted evt, MessageContext context, CancellationToken cancellationToken)
    {
        db.StreamingSessions.Add(new StreamingSession
        {
            WatchId = evt.WatchId,
            UserId = evt.UserId,
            MovieId = evt.MovieId,
            Channel = evt.Channel,
            StartedAt = evt.StartedAt,
            OpenedAt = time.GetUtcNow(),
        });
        await db.SaveChangesAsync(cancellationToken);
        recent.Add(new RecentEvent("streaming", context.Id, evt.UserId, evt.MovieId, evt.Genre, context.Offset, context.Partition, time.GetUtcNow()));
    }
}
