using System.Transactions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;

namespace Outbox.EntityFrameworkCore;

/// <summary>
/// Adds the outbox rows of pending events to the same SaveChanges (same batch, same transaction). Events leave their
/// entity (or the <see cref="IOutbox"/> buffer) only once the transaction that wrote them commits.
/// </summary>
internal sealed class OutboxSaveChangesInterceptor(OutboxMessageFactory factory, EnqueueTelemetry telemetry) : SaveChangesInterceptor
{
    public OutboxEventRegistry Registry => factory.Registry;

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        if (eventData.Context is { } context)
        {
            // Before collecting: events whose rows a savepoint rollback (or an unseen rollback) removed are written again.
            OutboxContextState.For(context).VerifyWrittenRows(context, context.Database.CurrentTransaction?.TransactionId);
            AddPendingRows(context);
        }

        return result;
    }

    public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } context)
        {
            await OutboxContextState.For(context)
                .VerifyWrittenRowsAsync(context, context.Database.CurrentTransaction?.TransactionId, cancellationToken)
                .ConfigureAwait(false);
            AddPendingRows(context);
        }

        return result;
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Saved(eventData.Context);
        return result;
    }

    public override ValueTask<int> SavedChangesAsync(
        SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Saved(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData) => Failed(eventData.Context);

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Failed(eventData.Context);
        return Task.CompletedTask;
    }

    public override void SaveChangesCanceled(DbContextEventData eventData) => Failed(eventData.Context);

    public override Task SaveChangesCanceledAsync(DbContextEventData eventData, CancellationToken cancellationToken = default)
    {
        Failed(eventData.Context);
        return Task.CompletedTask;
    }

    private void AddPendingRows(DbContext context)
    {
        var state = OutboxContextState.For(context);

        // A retried SaveChanges (for example by an execution strategy) must not add the rows twice.
        DetachInFlight(context, state);

        var pending = state.CollectUnwritten(context);
        if (pending.Count == 0)
        {
            return;
        }

        if (context.Database.AutoTransactionBehavior == AutoTransactionBehavior.Never
            && context.Database.CurrentTransaction is null
            && Transaction.Current is null)
        {
            throw new OutboxException(
                $"{context.GetType().Name}.Database.AutoTransactionBehavior is Never and no transaction is open: the outbox rows could commit apart from the changes. Open a transaction or use the default behaviour.");
        }

        if (context.Model.FindEntityType(typeof(OutboxMessage)) is null)
        {
            throw new OutboxException(
                $"{context.GetType().Name} has no OutboxMessage entity in its model: configure the context with UseOutbox(serviceProvider), or call modelBuilder.ApplyOutbox(options) in OnModelCreating.");
        }

        // The rows carry the enqueue span's context, so the consumer's span continues from it.
        var activity = EnqueueTelemetry.Start(context.GetType().Name, pending.Count);

        // Create every row first so that an unmapped or oversize event leaves the change tracker untouched.
        var inFlight = state.InFlight;
        inFlight.EnsureCapacity(pending.Count);
        try
        {
            foreach (var source in pending)
            {
                var message = factory.Create(source.Event);
                if (state.TryGetRetryId(source.Event, out var id))
                {
                    message.Id = id;
                }

                inFlight.Add((message, source));
            }
        }
        catch (Exception ex)
        {
            inFlight.Clear();
            EnqueueTelemetry.Stop(activity, ex);
            throw;
        }

        state.EnqueueActivity = activity;

        // Entry().State = Added attaches the row alone (DbSet.Add would walk it as a graph, for nothing).
        foreach (var (message, _) in inFlight)
        {
            context.Entry(message).State = EntityState.Added;
        }
    }

    private void Saved(DbContext? context)
    {
        var state = OutboxContextState.Find(context);
        if (context is null || state is null || state.InFlight.Count == 0)
        {
            return;
        }

        telemetry.Written(state.InFlight);
        EnqueueTelemetry.Stop(state.EnqueueActivity, null);
        state.EnqueueActivity = null;

        if (context.Database.CurrentTransaction is { } transaction)
        {
            // Committed or rolled back later: the transaction interceptor finishes the job.
            state.MarkInFlightWritten(transaction.TransactionId);
        }
        else if (Transaction.Current is { } ambient)
        {
            state.MarkInFlightWritten(null);
            state.SubscribeTo(ambient);
        }
        else
        {
            // SaveChanges' own transaction has committed.
            state.CommitInFlight();
        }

        DetachInFlight(context, state);
    }

    private static void Failed(DbContext? context)
    {
        var state = OutboxContextState.Find(context);
        if (context is not null && state is not null)
        {
            // The rows were not written (or were rolled back): the events stay pending for a retry.
            EnqueueTelemetry.Stop(state.EnqueueActivity, "SaveChanges failed");
            state.EnqueueActivity = null;
            DetachInFlight(context, state);
        }
    }

    private static void DetachInFlight(DbContext context, OutboxContextState state)
    {
        foreach (var (message, _) in state.InFlight)
        {
            context.Entry(message).State = EntityState.Detached;
        }

        state.InFlight.Clear();
    }
}
