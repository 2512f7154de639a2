using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Outbox.EntityFrameworkCore;

/// <summary>
/// Clears events from their entities when the transaction that wrote them commits; makes them pending again on rollback.
/// After a rollback to a savepoint, the rows still there are asked from the database before the commit (EF Core does not
/// report savepoint names, so which rows a rollback removed is not known otherwise).
/// </summary>
internal sealed class OutboxTransactionInterceptor : DbTransactionInterceptor
{
    public override InterceptionResult TransactionCommitting(DbTransaction transaction, TransactionEventData eventData, InterceptionResult result)
    {
        if (eventData.Context is { } context)
        {
            OutboxContextState.Find(context)?.VerifyWrittenRows(context, eventData.TransactionId);
        }

        return result;
    }

    public override async ValueTask<InterceptionResult> TransactionCommittingAsync(
        DbTransaction transaction, TransactionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } context && OutboxContextState.Find(context) is { } state)
        {
            await state.VerifyWrittenRowsAsync(context, eventData.TransactionId, cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) =>
        Committed(eventData.Context, eventData.TransactionId);

    public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Committed(eventData.Context, eventData.TransactionId);
        return Task.CompletedTask;
    }

    public override void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) =>
        RolledBack(eventData.Context, eventData.TransactionId);

    public override Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        RolledBack(eventData.Context, eventData.TransactionId);
        return Task.CompletedTask;
    }

    public override void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData) =>
        Failed(eventData.Context, eventData.TransactionId);

    public override Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Failed(eventData.Context, eventData.TransactionId);
        return Task.CompletedTask;
    }

    public override void RolledBackToSavepoint(DbTransaction transaction, TransactionEventData eventData) =>
        OutboxContextState.Find(eventData.Context)?.RolledBackToSavepoint();

    public override Task RolledBackToSavepointAsync(DbTransaction transaction, TransactionEventData eventData, CancellationToken cancellationToken = default)
    {
        OutboxContextState.Find(eventData.Context)?.RolledBackToSavepoint();
        return Task.CompletedTask;
    }

    private static void Committed(DbContext? context, Guid transaction)
    {
        if (OutboxContextState.Find(context) is { } state && state.WrittenBy(transaction))
        {
            state.CommitTransaction();
        }
    }

    private static void RolledBack(DbContext? context, Guid transaction)
    {
        // A rollback of another transaction (the writer ended unseen) leaves the rows to the check at the next contact.
        if (OutboxContextState.Find(context) is { } state && state.WrittenBy(transaction))
        {
            state.ResetTransaction();
        }
    }

    private static void Failed(DbContext? context, Guid transaction)
    {
        // A failed commit may have committed: the rows are checked before they are trusted (or written again).
        if (OutboxContextState.Find(context) is { } state && state.WrittenBy(transaction))
        {
            state.TransactionFailed();
        }
    }
}
