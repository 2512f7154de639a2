using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Outbox.ChaosTests.Model;

/// <summary>
/// Registered after <c>UseOutbox</c>: sees the outbox rows the outbox interceptor added to a save, so that the writers
/// can record each event's outbox id next to it (for the forensics of a lost event).
/// </summary>
public sealed class OutboxRowCapture : SaveChangesInterceptor
{
    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        if (eventData.Context is ChaosDb db)
        {
            foreach (var entry in db.ChangeTracker.Entries<OutboxMessage>().Where(e => e.State == EntityState.Added))
            {
                db.CapturedOutboxRows.Add(entry.Entity);
            }
        }

        return ValueTask.FromResult(result);
    }
}
