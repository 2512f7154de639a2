using Microsoft.EntityFrameworkCore;

namespace Outbox.IntegrationTests.Inbox;

/// <summary>Writes an effect row per event on the consumer's context; fails, delays or chains as the test says.</summary>
public sealed class RecordingHandler(InboxTestDb db, HandlerBehavior behavior) : IInboxHandler<MovieStarted>
{
    public async Task HandleAsync(MovieStarted evt, MessageContext context, CancellationToken cancellationToken)
    {
        var calls = behavior.RecordCall(context.Id, context.Attempt);
        if (behavior.Delay > TimeSpan.Zero)
        {
            await Task.Delay(behavior.Delay, cancellationToken);
        }

        if (behavior.DelayBySequence.TryGetValue(evt.Sequence, out var delay))
        {
            await Task.Delay(delay, cancellationToken);
        }

        db.Effects.Add(new Effect
        {
            EventId = context.Id,
            UserId = evt.UserId,
            Sequence = evt.Sequence,
            Handler = nameof(RecordingHandler),
            Consumer = behavior.ConsumerName,
            Attempt = context.Attempt,
            Offset = context.Offset,
        });

        if (behavior.EmitChainedEvent)
        {
            db.Outbox().Add(new StreamOpened(evt.UserId, evt.Sequence, context.Id));
        }

        if (behavior.SaveBeforeFailing)
        {
            // The rows reach the database inside the consumer's transaction; a failure below must roll them back.
            await db.SaveChangesAsync(cancellationToken);
        }

        if (behavior.FailuresBySequence.TryGetValue(evt.Sequence, out var failures) && calls <= failures)
        {
            throw new InvalidOperationException($"Handler failure {calls} for sequence {evt.Sequence}.");
        }
    }
}

/// <summary>
/// Writes a row that a deferred unique constraint checks only at COMMIT (table <c>deferred_unique</c>, which the test
/// creates) for events whose note is "dup": the second write of the same value fails when the transaction commits.
/// </summary>
public sealed class DeferredConstraintHandler(InboxTestDb db, HandlerBehavior behavior) : IInboxHandler<MovieStarted>
{
    public async Task HandleAsync(MovieStarted evt, MessageContext context, CancellationToken cancellationToken)
    {
        behavior.RecordCall(context.Id, context.Attempt);
        if (evt.Note == "dup")
        {
            await db.Database.ExecuteSqlRawAsync("INSERT INTO deferred_unique (value) VALUES ('same'), ('same')", cancellationToken);
        }

        db.Effects.Add(new Effect
        {
            EventId = context.Id,
            UserId = evt.UserId,
            Sequence = evt.Sequence,
            Handler = nameof(RecordingHandler),
            Consumer = behavior.ConsumerName,
            Attempt = context.Attempt,
            Offset = context.Offset,
        });
    }
}

/// <summary>A second handler of the same event, to check that several handlers share the transaction.</summary>
public sealed class AuditHandler(InboxTestDb db, HandlerBehavior behavior) : IInboxHandler<MovieStarted>
{
    public Task HandleAsync(MovieStarted evt, MessageContext context, CancellationToken cancellationToken)
    {
        db.Effects.Add(new Effect
        {
            EventId = context.Id,
            UserId = evt.UserId,
            Sequence = evt.Sequence,
            Handler = nameof(AuditHandler),
            Consumer = behavior.ConsumerName,
            Attempt = context.Attempt,
            Offset = context.Offset,
        });
        return Task.CompletedTask;
    }
}

/// <summary>Does nothing: measures the inbox's own cost.</summary>
public sealed class NoOpHandler : IInboxHandler<MovieStarted>
{
    public Task HandleAsync(MovieStarted evt, MessageContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}
