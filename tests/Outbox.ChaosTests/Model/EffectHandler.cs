using Microsoft.EntityFrameworkCore;

namespace Outbox.ChaosTests.Model;

/// <summary>
/// The consumers' handler. Its effect is a row per (group, event) whose count a second effect would raise, and the
/// aggregate's last handled version, which must grow by exactly one per event (a gap, a repeat or a step back is
/// recorded as a sequence violation, in the same transaction). About one event in two hundred fails on its first attempt
/// after saving its changes, so retries must roll them back.
/// </summary>
public sealed class EffectHandler(ChaosDb db) : IInboxHandler<ChaosEvent>
{
    public async Task HandleAsync(ChaosEvent evt, MessageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(evt);
        ArgumentNullException.ThrowIfNull(context);
        var group = context.ConsumerGroup;
        var effect = await db.Effects.FindAsync([group, evt.ChaosId], cancellationToken);
        if (effect is null)
        {
            db.Effects.Add(new Effect { ConsumerGroup = group, ChaosId = evt.ChaosId, AggregateId = evt.Key, Version = evt.Version, Count = 1, EventId = context.Id });
        }
        else
        {
            effect.Count++;
        }

        var progress = await db.KeyProgress.FindAsync([group, evt.Key], cancellationToken);
        var last = progress?.LastVersion ?? 0;
        if (evt.Version != last + 1)
        {
            db.SequenceViolations.Add(new SequenceViolation
            {
                ConsumerGroup = group,
                AggregateId = evt.Key,
                Expected = last + 1,
                Got = evt.Version,
                ChaosId = evt.ChaosId,
                Partition = context.Partition,
                Offset = context.Offset,
            });
        }

        if (progress is null)
        {
            db.KeyProgress.Add(new KeyProgress { ConsumerGroup = group, AggregateId = evt.Key, LastVersion = evt.Version });
        }
        else
        {
            progress.LastVersion = Math.Max(last, evt.Version);
        }

        if (context.Attempt == 1 && FailsFirstAttempt(evt.ChaosId))
        {
            await db.SaveChangesAsync(cancellationToken);
            throw new InvalidOperationException($"chaos: deliberate failure of the first attempt of {evt.ChaosId} (after saving its changes)");
        }
    }

    private static bool FailsFirstAttempt(Guid id) => (id.GetHashCode() & 0x7fffffff) % 200 == 0;
}
